-- Clients that registered themselves (RFC 7591): never trusted, always asked about; their
-- registration access token (RFC 7592) as a SHA-256 digest, and the metadata they gave.
ALTER TABLE clients ADD COLUMN self_registered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
ALTER TABLE clients ADD COLUMN registration_metadata TEXT;
