-- A counter that every write to `clients` moves: each instance caches client rows and
-- reads this cheap row to learn that another process (the CLI, another instance)
-- changed one. A trigger, so that no writer can forget it.
CREATE TABLE client_version (
    id BIGINT PRIMARY KEY NOT NULL,
    n BIGINT NOT NULL
);
INSERT INTO client_version (id, n) VALUES (1, 0);
CREATE FUNCTION bump_client_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE client_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION bump_client_version();
