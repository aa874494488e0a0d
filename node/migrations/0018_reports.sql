-- Reports (issue 12, moderation): a member's report of a post or an account, or a remote server's `Flag` about
-- ours. A member's report names the member (`reporter_id`); a remote one its actor and host (`reporter_uri`,
-- `reporter_host`; `reporter_domain`, its registrable domain, bounds a stranger's open reports: wildcard DNS hands out
-- names, not domains) and the Flag's id (`activity_id`, once only).
-- `account` is the reported actor's id; `account_id` the local actor when it is ours, so a report about a Partner
-- is kept from that Partner. `posts` is a JSON list of the reported posts' ids. A Partner resolves or dismisses
-- it (`state`, `note`); `forwarded_at` says the Group sent it on to the account's server as a `Flag`.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    reporter_id INTEGER REFERENCES local_actors (id),
    reporter_uri TEXT,
    reporter_host TEXT,
    reporter_domain TEXT,
    activity_id TEXT UNIQUE,
    account TEXT NOT NULL,
    account_id INTEGER REFERENCES local_actors (id),
    posts TEXT NOT NULL DEFAULT '[]',
    comment TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'dismissed')),
    note TEXT NOT NULL DEFAULT '',
    closed_by INTEGER REFERENCES local_actors (id),
    closed_at TEXT,
    forwarded_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX reports_open ON reports (state, id);
CREATE INDEX reports_domain ON reports (reporter_domain, state);
