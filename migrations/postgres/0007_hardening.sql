-- Expired login flows are purged every minute (anyone can open one): by this index, not by
-- a scan of the table.
CREATE INDEX login_flows_by_expiry ON login_flows (expires_at);

-- What a confirmation request is for: 'login' (an OIDC or admin login page) or
-- 'site_check' (the compat /auth API), worded differently so that one cannot pass for
-- the other.
ALTER TABLE confirmations ADD COLUMN purpose TEXT NOT NULL DEFAULT 'login';
