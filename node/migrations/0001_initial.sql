-- Local actors: the Congregation's Group and its members' Persons. Keys live with the actor.
CREATE TABLE local_actors (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind TEXT NOT NULL CHECK (kind IN ('Group', 'Person')),
    display_name TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    private_key_pem TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE members (
    actor_id INTEGER PRIMARY KEY REFERENCES local_actors (id) ON DELETE CASCADE,
    tier TEXT NOT NULL CHECK (tier IN ('friend', 'partner')),
    joined_at TEXT NOT NULL
);

-- What we know of actors elsewhere (fetched, signature-checked documents).
CREATE TABLE remote_actors (
    uri TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    username TEXT,
    host TEXT NOT NULL,
    inbox TEXT NOT NULL,
    shared_inbox TEXT,
    display_name TEXT,
    document TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX remote_actors_host ON remote_actors (host);

CREATE TABLE remote_keys (
    key_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
CREATE INDEX remote_keys_owner ON remote_keys (owner);

-- Every accepted inbound activity, committed before the 202; the worker drains unprocessed rows.
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    activity_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    recipient TEXT,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    processed_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    outcome TEXT
);
CREATE INDEX inbox_pending ON inbox (next_attempt_at, id) WHERE processed_at IS NULL;

-- Follow relations in both directions; URIs on both sides (local actors by their id URL).
CREATE TABLE follows (
    id INTEGER PRIMARY KEY,
    follower TEXT NOT NULL,
    followee TEXT NOT NULL,
    activity_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (follower, followee)
);
CREATE INDEX follows_followee ON follows (followee, state);

-- Activities our actors published, served from the outbox and by id.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    activity_id TEXT NOT NULL UNIQUE,
    actor_id INTEGER NOT NULL REFERENCES local_actors (id),
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    public INTEGER NOT NULL DEFAULT 0,
    published TEXT NOT NULL
);
CREATE INDEX outbox_actor ON outbox (actor_id, id);

-- One row per (activity, inbox), written in the same transaction as what caused it; the worker sends.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    activity_id TEXT NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES local_actors (id),
    inbox TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (activity_id, inbox)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'queued';
