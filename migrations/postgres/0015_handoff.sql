-- Where the leader takes confirmation requests handed to it over HTTP (its cluster_url),
-- and its key for this term, which signs them (src/cluster/handoff.rs). NULL: it takes none.
ALTER TABLE cluster_leader ADD COLUMN handoff_url TEXT;
ALTER TABLE cluster_leader ADD COLUMN handoff_key TEXT;
