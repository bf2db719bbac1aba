-- Who may log in to a client: a JSON array of patterns (a bare JID, a domain, or
-- group:NAME); empty: anyone.
ALTER TABLE clients ADD COLUMN allow TEXT NOT NULL DEFAULT '[]';

-- Named sets of people, for access patterns group:NAME. Members are normalized bare JIDs.
CREATE TABLE access_groups (
    name TEXT PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE access_group_members (
    group_name TEXT NOT NULL REFERENCES access_groups (name) ON DELETE CASCADE,
    jid TEXT NOT NULL,
    PRIMARY KEY (group_name, jid)
);
CREATE INDEX access_group_members_by_jid ON access_group_members (jid);
