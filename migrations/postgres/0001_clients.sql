-- Registered relying parties. A client without secret_hash is public.
CREATE TABLE clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- Hex SHA-256 of the client secret; the secret itself is shown once and never stored.
    secret_hash TEXT,
    -- JSON array of exact redirect URIs.
    redirect_uris TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
