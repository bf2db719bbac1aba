-- Expired login flows are purged every minute (anyone can open one): by this index, not by
-- a scan of the table.
CREATE INDEX login_flows_by_expiry ON login_flows (expires_at);
