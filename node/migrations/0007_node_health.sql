-- /healthz proves the database takes a write by updating this one row (a SELECT would pass on a full or
-- read-only disk).
CREATE TABLE node_health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
);
