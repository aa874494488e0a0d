-- Members live here: passwords, browser sessions, invitations and their endorsements, password-reset links,
-- avatars, and the record of every join, promotion, departure and removal.

CREATE TABLE credentials (
    actor_id INTEGER PRIMARY KEY REFERENCES local_actors (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    changed_at TEXT NOT NULL
);

-- The cookie holds a random token; only its SHA-256 is stored, so a copy of the database opens no session.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    actor_id INTEGER NOT NULL REFERENCES local_actors (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_actor ON sessions (actor_id);

CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    tier TEXT NOT NULL CHECK (tier IN ('friend', 'partner')),
    inviter_id INTEGER REFERENCES local_actors (id),
    note TEXT NOT NULL DEFAULT '',
    endorsements_needed INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by INTEGER REFERENCES local_actors (id),
    used_at TEXT,
    used_by INTEGER REFERENCES local_actors (id)
);

CREATE TABLE invitation_endorsements (
    invitation_id INTEGER NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    partner_id INTEGER NOT NULL REFERENCES local_actors (id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (invitation_id, partner_id)
);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    actor_id INTEGER NOT NULL REFERENCES local_actors (id) ON DELETE CASCADE,
    issued_by INTEGER REFERENCES local_actors (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE TABLE avatars (
    actor_id INTEGER PRIMARY KEY REFERENCES local_actors (id) ON DELETE CASCADE,
    media_type TEXT NOT NULL,
    data BLOB NOT NULL,
    updated_at TEXT NOT NULL
);

-- Append-only: who joined, was promoted, left or was removed, by whom, when and why.
CREATE TABLE membership_events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('joined', 'promoted', 'demoted', 'departed', 'removed')),
    member_id INTEGER NOT NULL REFERENCES local_actors (id),
    by_id INTEGER REFERENCES local_actors (id),
    tier TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX membership_events_member ON membership_events (member_id, id);

-- Timelines read newest first.
CREATE INDEX posts_timeline ON posts (id) WHERE deleted_at IS NULL;
CREATE INDEX remote_objects_timeline ON remote_objects (received_at) WHERE deleted_at IS NULL;
