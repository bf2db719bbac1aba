-- Several instances on one database (PostgreSQL only; SQLite serves a single instance).

-- Confirmation requests handed to the instance that holds the XMPP component (the leader).
-- The leader enforces the anti-abuse limits for the whole deployment and rebuilds them
-- from these rows when it takes over.
CREATE TABLE confirmations (
    id TEXT PRIMARY KEY NOT NULL,
    -- The normalized JID asked: bare, or full for an IQ to one resource.
    jid TEXT NOT NULL,
    code TEXT NOT NULL,
    method TEXT NOT NULL,
    url TEXT NOT NULL,
    requester TEXT NOT NULL,
    origin TEXT,
    -- The client IP, for the per-IP limit.
    ip TEXT,
    timeout_secs BIGINT NOT NULL,
    -- The login flow the answer goes to, if any (the /auth API waits on the row instead).
    flow_id TEXT,
    -- queued (waiting for the leader), sent, accepted, denied, expired, unreachable, refused
    status TEXT NOT NULL,
    -- Why the leader refused it (a limit), and when to try again.
    refusal TEXT,
    retry_after_secs BIGINT,
    -- The instance that asked, and the leader that sent it.
    requested_by TEXT NOT NULL,
    sent_by TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX confirmations_open ON confirmations (status) WHERE status IN ('queued', 'sent');
CREATE INDEX confirmations_by_created ON confirmations (created_at);

-- Who holds the component, written by the leader every few seconds. Leadership itself is
-- a session-level advisory lock: it ends with the leader's connection.
CREATE TABLE cluster_leader (
    id BIGINT PRIMARY KEY NOT NULL,
    instance TEXT NOT NULL,
    since BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    xmpp_connected BIGINT NOT NULL,
    xmpp_error TEXT
);

-- ID token signing keys, shared by every instance (PKCS#8 PEM). Imported from keys_dir on
-- the first start; `jidconnect keys rotate` adds rows and notifies every instance.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    pem TEXT NOT NULL
);
