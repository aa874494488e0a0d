-- Every moderation action, recorded as membership changes are (issue 12): who did it (`by_id`; NULL when a passed
-- proposal did), what (`kind`), to what (`target`: an actor id, a server's host, a report number), and why.
-- Members' own mutes and blocks are theirs alone and are not written here; the Congregation's are.
-- `proposal_id` names the decision that did it (sibling blocks and allowlist mode are decided, not done by one
-- Partner); `report_id` the report acted on, when there was one.
CREATE TABLE moderation_events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    by_id INTEGER REFERENCES local_actors (id),
    proposal_id INTEGER REFERENCES proposals (id),
    report_id INTEGER,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX moderation_events_target ON moderation_events (target, id);
