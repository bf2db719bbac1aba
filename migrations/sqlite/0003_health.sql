-- One row that /healthz rewrites: a write probe that notices a full disk or a read-only
-- database, which a SELECT would not.
CREATE TABLE health (
    id BIGINT PRIMARY KEY NOT NULL,
    checked_at BIGINT NOT NULL
);
INSERT INTO health (id, checked_at) VALUES (1, 0);
