-- Posts written on this node by a member or by the Group; content is sanitized HTML, source what was typed.
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    author_id INTEGER NOT NULL REFERENCES local_actors (id),
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'members')),
    to_group INTEGER NOT NULL DEFAULT 1,
    content TEXT NOT NULL,
    source TEXT NOT NULL,
    published TEXT NOT NULL,
    updated TEXT,
    deleted_at TEXT
);
CREATE INDEX posts_author ON posts (author_id, id);

-- Notes from elsewhere, for members' timelines; tombstoned (content dropped) on Delete.
CREATE TABLE remote_objects (
    uri TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    author TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    name TEXT,
    summary TEXT,
    in_reply_to TEXT,
    audience TEXT,
    public INTEGER NOT NULL DEFAULT 0,
    published TEXT,
    updated TEXT,
    received_at TEXT NOT NULL,
    deleted_at TEXT,
    document TEXT NOT NULL
);
CREATE INDEX remote_objects_author ON remote_objects (author);

-- Likes and Announces of local posts and remote objects; one per (object, actor, kind), removed by Undo.
CREATE TABLE reactions (
    activity_id TEXT PRIMARY KEY,
    object_uri TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('Like', 'Announce')),
    created_at TEXT NOT NULL,
    UNIQUE (object_uri, actor, kind)
);
CREATE INDEX reactions_object ON reactions (object_uri, kind);
