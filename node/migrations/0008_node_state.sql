-- What the node remembers about itself between starts: e.g. a digest of the Group document it last
-- announced, so a changed name or summary in the settings goes out as Update(Group) at the next start.
CREATE TABLE node_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
