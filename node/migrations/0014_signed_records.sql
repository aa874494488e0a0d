-- The signed-record format (FEDERATION.md, "Signed records"): the Group's Ed25519 key, published as a FEP-521a
-- Multikey and signing eddsa-jcs-2022 proofs, made at startup for a node that has none; and each decision-log
-- entry's record version: 1 for the entries signed before (RSA, kept as they are, never re-signed), 2 from now on.
CREATE TABLE record_keys (
    actor_id INTEGER PRIMARY KEY REFERENCES local_actors (id) ON DELETE CASCADE,
    private_key_pem TEXT NOT NULL,
    created_at TEXT NOT NULL
);

ALTER TABLE decision_log ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
