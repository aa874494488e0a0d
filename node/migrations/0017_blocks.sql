-- Blocks, mutes and allowlist mode (issue 12, moderation). Hosts are stored as the connector sees them: IDNA,
-- lowercase, no trailing dot, no port; a server block covers its subdomains too, as Mastodon's domain blocks do.

-- Servers the Congregation blocks: nothing is delivered to them and nothing from them is accepted. One Partner (or
-- the operator, `by_id` NULL) blocks a non-sibling; a sibling only by a passed proposal (`proposal_id`).
CREATE TABLE server_blocks (
    host TEXT PRIMARY KEY,
    reason TEXT NOT NULL DEFAULT '',
    by_id INTEGER REFERENCES local_actors (id),
    proposal_id INTEGER REFERENCES proposals (id),
    created_at TEXT NOT NULL
);

-- Servers federated with in allowlist mode, besides siblings.
CREATE TABLE allowed_servers (
    host TEXT PRIMARY KEY,
    by_id INTEGER REFERENCES local_actors (id),
    created_at TEXT NOT NULL
);

-- The Congregation's federation mode: 'open' (everyone not blocked) or 'allowlist' (siblings and listed servers
-- only), changed only by a passed proposal. No row means open.
CREATE TABLE federation_mode (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    mode TEXT NOT NULL CHECK (mode IN ('open', 'allowlist')),
    proposal_id INTEGER REFERENCES proposals (id),
    changed_at TEXT NOT NULL
);

-- A member's own mutes and blocks of an account (`target` its actor URI) or a whole server (`target` its host).
-- Private to that member: never shown to anyone else, never in the moderation log, never sent.
CREATE TABLE member_filters (
    member_id INTEGER NOT NULL REFERENCES local_actors (id) ON DELETE CASCADE,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('account', 'server')),
    target TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('mute', 'block')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (member_id, target_kind, target)
);

-- Proposals may now act by blocking a server (a sibling's) and by changing the federation mode. SQLite cannot alter
-- a CHECK, and rebuilding `proposals` would cascade to its stances: the constraint is widened in place, the way
-- SQLite's ALTER TABLE documentation gives for changes that leave every stored row valid, and the schema cookie is
-- moved so that every connection (this one too) reads the new definition.
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''approve_sibling'', ''change_setting'')',
                                       '''approve_sibling'', ''change_setting'', ''block_server'', ''federation_mode'')')
WHERE type = 'table' AND name = 'proposals' AND instr(sql, '''block_server''') = 0;
PRAGMA schema_version = 1700017;
PRAGMA writable_schema = OFF;
