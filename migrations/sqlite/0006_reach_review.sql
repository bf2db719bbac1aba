-- Where a login page was opened (IP address, browser): the answer to a code sent for it
-- says so, so that someone tricked into sending another person's code can tell.
ALTER TABLE login_flows ADD COLUMN origin TEXT;
-- 1: the address typed was a contact with no app online when the request went out (what
-- the page says; a snapshot, not a live view of someone's presence).
ALTER TABLE login_flows ADD COLUMN offline BIGINT NOT NULL DEFAULT 0;
-- The login a notice is about, for "not me": the page it was confirmed on, and the grant.
ALTER TABLE login_notices ADD COLUMN flow_id TEXT;
ALTER TABLE login_notices ADD COLUMN grant_id TEXT;
CREATE INDEX login_notices_by_flow ON login_notices (flow_id);
