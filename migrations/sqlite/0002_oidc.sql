-- Client options of the OpenID provider.
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
-- 1: no consent page for this client.
ALTER TABLE clients ADD COLUMN trusted BIGINT NOT NULL DEFAULT 0;
-- 1: the `email` claim carries the JID (email_verified false), for RPs that need an email.
ALTER TABLE clients ADD COLUMN jid_as_email BIGINT NOT NULL DEFAULT 0;
-- Space-separated scopes the client may get; empty: every supported scope.
ALTER TABLE clients ADD COLUMN allowed_scopes TEXT NOT NULL DEFAULT '';
-- 1: issue refresh tokens even without the offline_access scope.
ALTER TABLE clients ADD COLUMN always_refresh BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';

-- An authorization request waiting for the person to log in and consent.
CREATE TABLE login_flows (
    id TEXT PRIMARY KEY NOT NULL,
    -- SHA-256 of the browser cookie that started the flow: only that browser continues it.
    browser_hash TEXT NOT NULL,
    csrf TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT,
    nonce TEXT,
    code_challenge TEXT,
    prompt TEXT NOT NULL,
    max_age BIGINT,
    login_hint TEXT,
    -- The `claims` request parameter (JSON), to add requested claims.
    claims TEXT,
    -- new, sent, accepted, denied, expired, unreachable, done
    status TEXT NOT NULL,
    jid TEXT,
    code TEXT,
    sent_at BIGINT,
    auth_time BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Single sign-on sessions; the cookie holds the token, the table its SHA-256.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    subject TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE consents (
    subject TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (subject, client_id)
);

-- One per authorization; codes and tokens hang off it, and revoking it kills them all.
CREATE TABLE grants (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    claims TEXT,
    auth_time BIGINT NOT NULL,
    session_hash TEXT,
    revoked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- Access and refresh tokens, stored as SHA-256 digests.
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX tokens_by_grant ON tokens (grant_id);
CREATE INDEX auth_codes_by_grant ON auth_codes (grant_id);
CREATE INDEX grants_by_session ON grants (session_hash);
