-- A counter that every write to `clients` moves: each process caches client rows and
-- reads this cheap row to learn that another process (the CLI, another instance)
-- changed one. A trigger, so that no writer can forget it.
CREATE TABLE client_version (
    id BIGINT PRIMARY KEY NOT NULL,
    n BIGINT NOT NULL
);
INSERT INTO client_version (id, n) VALUES (1, 0);
CREATE TRIGGER clients_inserted AFTER INSERT ON clients
BEGIN
    UPDATE client_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER clients_updated AFTER UPDATE ON clients
BEGIN
    UPDATE client_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER clients_deleted AFTER DELETE ON clients
BEGIN
    UPDATE client_version SET n = n + 1 WHERE id = 1;
END;
