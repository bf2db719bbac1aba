-- Where the leader takes confirmation requests handed to it over HTTP (its cluster_url),
-- its key for this term, which signs them, and the term's start (`since`) it wrote them
-- for: a leader of an older release leaves the last one's (src/cluster/handoff.rs).
-- NULL: it takes none.
ALTER TABLE cluster_leader ADD COLUMN handoff_url TEXT;
ALTER TABLE cluster_leader ADD COLUMN handoff_key TEXT;
ALTER TABLE cluster_leader ADD COLUMN handoff_since BIGINT;
