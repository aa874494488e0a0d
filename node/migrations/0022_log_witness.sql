-- Cross-witnessed decision logs (FEDERATION.md, "Witnessed decision logs"): for each sibling, the latest (seq, hash)
-- of its decision log we have seen and the newest signed entries we saw (bounded), so every later copy is checked
-- to extend them; and the equivocation proofs (two different signed entries by one Group at one seq), found here
-- or gossiped to us by a sibling, each kept once by its digest.
CREATE TABLE witnessed_logs (
    grp TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    checked_at INTEGER NOT NULL,
    problem TEXT
);

CREATE TABLE witnessed_entries (
    grp TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    item TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (grp, seq)
);

CREATE TABLE log_equivocations (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    grp TEXT NOT NULL,
    seq INTEGER NOT NULL,
    first TEXT NOT NULL,
    second TEXT NOT NULL,
    received_from TEXT,
    found_at INTEGER NOT NULL
);
CREATE INDEX log_equivocations_grp ON log_equivocations (grp, seq);
