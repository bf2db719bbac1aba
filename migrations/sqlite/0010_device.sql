-- The grant types a client may use (space-separated). Existing clients keep the two they
-- had; the device authorization grant (RFC 8628) is opt-in.
ALTER TABLE clients ADD COLUMN grant_types TEXT NOT NULL DEFAULT 'authorization_code refresh_token';

-- Device authorization requests (RFC 8628): the device polls with the device code (stored
-- as its SHA-256); the person types the user code on /device, or sends it from their XMPP
-- app, and goes through the login flow `flow_id`.
CREATE TABLE device_authorizations (
    device_code_hash TEXT PRIMARY KEY NOT NULL,
    user_code TEXT NOT NULL,
    client_id TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    -- pending, approved (grant_id set), denied, redeemed
    status TEXT NOT NULL,
    grant_id TEXT,
    -- Seconds the device must wait between polls; grows by 5 on each slow_down.
    interval_secs BIGINT NOT NULL,
    polled_at BIGINT,
    -- 1 once a browser took the user code: the flow is that browser's.
    bound BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX device_authorizations_by_user_code ON device_authorizations (user_code);
CREATE UNIQUE INDEX device_authorizations_by_flow ON device_authorizations (flow_id);
CREATE INDEX device_authorizations_by_expiry ON device_authorizations (expires_at);
