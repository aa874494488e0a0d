-- The Assembly of Congregations (FEDERATION.md, "The Assembly"): proposals tabled here or relayed to us, each with
-- its frozen rules and roster and the signed object exactly as it verified; the Congregations' signed stances, one
-- row per (proposal, Group, digest), so a forged copy never takes the real one's place and two different stances
-- by one Group are both kept (the equivocation proof).
CREATE TABLE assembly_proposals (
    id INTEGER PRIMARY KEY,
    uri TEXT NOT NULL UNIQUE,
    tabled_by TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('consent', 'poll')),
    closes_at INTEGER NOT NULL,
    final_at INTEGER NOT NULL,
    rules TEXT NOT NULL,
    roster TEXT NOT NULL,
    document TEXT NOT NULL,
    digest TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'withdrawn')),
    withdrawal TEXT,
    tabling_proposal_id INTEGER REFERENCES proposals (id) ON DELETE SET NULL,
    local_proposal_id INTEGER REFERENCES proposals (id) ON DELETE SET NULL,
    stance_digest TEXT,
    result TEXT,
    logged_seq INTEGER,
    pulled_at INTEGER,
    received_from TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX assembly_proposals_final ON assembly_proposals (final_at) WHERE result IS NULL;
CREATE UNIQUE INDEX assembly_proposals_local ON assembly_proposals (local_proposal_id);
CREATE INDEX assembly_proposals_digest ON assembly_proposals (digest);

CREATE TABLE assembly_stances (
    id INTEGER PRIMARY KEY,
    proposal_id INTEGER NOT NULL REFERENCES assembly_proposals (id) ON DELETE CASCADE,
    grp TEXT NOT NULL,
    digest TEXT NOT NULL,
    choice TEXT NOT NULL,
    members INTEGER NOT NULL,
    created INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    reasons TEXT NOT NULL DEFAULT '',
    document TEXT NOT NULL,
    received_from TEXT,
    UNIQUE (proposal_id, grp, digest)
);

-- Our siblings' signed attestations, refreshed by the decision clock: their siblings are shown to our members as
-- introductions (becoming siblings stays each side's decision).
CREATE TABLE sibling_attestations (
    grp TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
);

-- Tabling is itself a decision: a local consent proposal whose action tables the Assembly proposal it describes.
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''block_server'', ''federation_mode'')',
                                       '''block_server'', ''federation_mode'', ''table_assembly'')')
WHERE type = 'table' AND name = 'proposals' AND instr(sql, '''table_assembly''') = 0;
PRAGMA schema_version = 2000021; -- above 0017's 1700017 and every DDL since, so each connection rereads the schema
PRAGMA writable_schema = OFF;
