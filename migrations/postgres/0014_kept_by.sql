-- The process that may keep a copy of the flow, just written, for the browser's next page
-- (src/store/fresh_flows.rs): the one that stored it or last recorded it as sent. Another
-- process recording it as sent tells every instance so that the copy is dropped; that
-- process itself needs no telling. NULL (rows older than this column): always tell.
ALTER TABLE login_flows ADD COLUMN kept_by TEXT;
