-- Crews (home crews of 3–8 joined by consent of the crew; open working groups), crew-only posts,
-- proposals decided by consent or poll, stances, and the Congregation's signed, hash-chained decision log.

CREATE TABLE crews (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    rhythm TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('home', 'working')),
    created_by INTEGER REFERENCES local_actors (id),
    created_at TEXT NOT NULL,
    closed_at TEXT
);

CREATE TABLE crew_members (
    crew_id INTEGER NOT NULL REFERENCES crews (id) ON DELETE CASCADE,
    actor_id INTEGER NOT NULL REFERENCES local_actors (id) ON DELETE CASCADE,
    joined_at TEXT NOT NULL,
    PRIMARY KEY (crew_id, actor_id)
);
CREATE INDEX crew_members_actor ON crew_members (actor_id);

-- Asking to join a home crew: every current crew member answers; one decline ends it (privately).
CREATE TABLE crew_requests (
    id INTEGER PRIMARY KEY,
    crew_id INTEGER NOT NULL REFERENCES crews (id) ON DELETE CASCADE,
    actor_id INTEGER NOT NULL REFERENCES local_actors (id) ON DELETE CASCADE,
    message TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('pending', 'joined', 'declined', 'withdrawn')),
    created_at TEXT NOT NULL,
    decided_at TEXT
);
CREATE UNIQUE INDEX crew_requests_open ON crew_requests (crew_id, actor_id) WHERE state = 'pending';

CREATE TABLE crew_answers (
    request_id INTEGER NOT NULL REFERENCES crew_requests (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES local_actors (id) ON DELETE CASCADE,
    answer TEXT NOT NULL CHECK (answer IN ('consent', 'decline')),
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (request_id, member_id)
);

-- Crew-only posts: visibility 'crew' names the crew. SQLite cannot change a CHECK in place: rebuild.
CREATE TABLE posts_new (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    author_id INTEGER NOT NULL REFERENCES local_actors (id),
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'members', 'crew')),
    crew_id INTEGER REFERENCES crews (id),
    to_group INTEGER NOT NULL DEFAULT 1,
    content TEXT NOT NULL,
    source TEXT NOT NULL,
    published TEXT NOT NULL,
    updated TEXT,
    deleted_at TEXT,
    CHECK ((visibility = 'crew') = (crew_id IS NOT NULL))
);
INSERT INTO posts_new (id, uuid, author_id, visibility, to_group, content, source, published, updated, deleted_at)
    SELECT id, uuid, author_id, visibility, to_group, content, source, published, updated, deleted_at FROM posts;
DROP TABLE posts;
ALTER TABLE posts_new RENAME TO posts;
-- Every index the old table had (0003, 0004, 0005), then the crew's own.
CREATE INDEX posts_author ON posts (author_id, id);
CREATE INDEX posts_timeline ON posts (id) WHERE deleted_at IS NULL;
CREATE INDEX posts_published ON posts (published, id) WHERE deleted_at IS NULL;
CREATE INDEX posts_public_published ON posts (published, id) WHERE deleted_at IS NULL AND visibility = 'public';
CREATE INDEX posts_author_published ON posts (author_id, published, id) WHERE deleted_at IS NULL;
CREATE INDEX posts_crew ON posts (crew_id, published, id) WHERE crew_id IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE proposals (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('consent', 'poll', 'advice')),
    scope TEXT NOT NULL CHECK (scope IN ('congregation', 'crew', 'partners', 'public')),
    crew_id INTEGER REFERENCES crews (id),
    author_id INTEGER NOT NULL REFERENCES local_actors (id),
    title TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '',
    options TEXT NOT NULL,               -- JSON array of option names
    multiple INTEGER NOT NULL DEFAULT 0, -- poll: anyOf rather than oneOf
    closes_at TEXT NOT NULL,
    quorum_percent INTEGER NOT NULL DEFAULT 0 CHECK (quorum_percent BETWEEN 0 AND 100),
    hide_results INTEGER NOT NULL DEFAULT 0,
    action TEXT CHECK (action IN ('promote', 'remove_member', 'approve_sibling', 'change_setting')),
    action_args TEXT,                    -- JSON object
    state TEXT NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'passed', 'failed', 'no_quorum', 'withdrawn', 'enacted')),
    eligible INTEGER,                    -- frozen at close
    created_at TEXT NOT NULL,
    closed_at TEXT,
    outcome TEXT NOT NULL DEFAULT '',
    outcome_by INTEGER REFERENCES local_actors (id),
    enacted_at TEXT,
    enact_error TEXT,
    CHECK ((scope = 'crew') = (crew_id IS NOT NULL))
);
CREATE INDEX proposals_open ON proposals (closes_at) WHERE state = 'open';

-- Every stance as cast (history); the tally takes each voter's latest. Voters are actor URIs, local or remote.
CREATE TABLE stances (
    id INTEGER PRIMARY KEY,
    proposal_id INTEGER NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
    voter TEXT NOT NULL,
    choices TEXT NOT NULL,               -- JSON array
    reason TEXT NOT NULL DEFAULT '',
    cast_at TEXT NOT NULL,
    activity_id TEXT UNIQUE              -- the remote vote's Create, so a redelivery counts once
);
CREATE INDEX stances_proposal ON stances (proposal_id, voter, id);

-- Append-only: each closed proposal's entry, chained by hash and signed with the Group's key.
CREATE TABLE decision_log (
    seq INTEGER PRIMARY KEY,
    proposal_uuid TEXT NOT NULL UNIQUE,
    entry TEXT NOT NULL,                 -- canonical JSON of the entry, prev_hash included
    hash TEXT NOT NULL,
    signature TEXT NOT NULL,
    created_at TEXT NOT NULL
);
