-- Settings the Congregation changed by a consent proposal (action change_setting). They override
-- congregation.toml and CONGREGATION_* variables, and are applied again at every start.
CREATE TABLE decided_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    proposal TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
