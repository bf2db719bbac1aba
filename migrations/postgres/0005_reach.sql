-- Every XMPP app can log in: the send-the-code way, the login service as a contact,
-- login notices, and browsers that are exempt from limits strangers set off.

-- The code a page shows for the send-the-code way (K7XM-4QPA): a message carrying it
-- confirms that page's login for the sender. Single use; NULL once used or not offered.
ALTER TABLE login_flows ADD COLUMN send_code TEXT;
CREATE UNIQUE INDEX login_flows_by_send_code ON login_flows (send_code);

-- People who added the login service as a contact (RFC 6121), from the service's side:
-- `from` (they get our presence), `to` (we get theirs: our messages pass stranger
-- filters) or `both`.
CREATE TABLE contacts (
    jid TEXT PRIMARY KEY NOT NULL,
    subscription TEXT NOT NULL,
    -- online, offline, or NULL while unknown (after a reconnection, until probed).
    presence TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Browsers that completed a login as a JID: the digest of their device cookie. Such a
-- browser is exempt from that JID's per-JID limits that other browsers set off.
CREATE TABLE known_devices (
    device_hash TEXT NOT NULL,
    subject TEXT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (device_hash, subject)
);

-- What a contact was told after a login, so that "not me" can end that login's session.
CREATE TABLE login_notices (
    id TEXT PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL,
    session_hash TEXT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- NULL until the XMPP link has sent it.
    sent_at BIGINT,
    -- When "not me" ended its session.
    undone_at BIGINT
);
CREATE INDEX login_notices_by_subject ON login_notices (subject, created_at);
CREATE INDEX login_notices_unsent ON login_notices (sent_at);

-- Who asked, for the limits a new leader rebuilds: the client, and the known browser.
ALTER TABLE confirmations ADD COLUMN client_id TEXT;
ALTER TABLE confirmations ADD COLUMN device TEXT;
CREATE INDEX confirmations_by_flow ON confirmations (flow_id) WHERE status IN ('queued', 'sent');
