-- Issue 12 (points 6 and 8). `size` (bytes of the body or document) and `host` (the actor's or author's server:
-- its registrable domain, store/inbox.py host_key) are kept beside each row, so a quota sums an index rather
-- than every document: a pending inbox row's for the per-actor and per-server inbox quotas, a stored object's for
-- the per-author and per-server caps. Rows already here get their host name (lower-case, port included): SQL has
-- no Public Suffix List, and they only make a quota count a little lower until they are processed. The worker takes each actor's pending rows in order by (actor, id).
ALTER TABLE inbox ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN host TEXT NOT NULL DEFAULT '';
UPDATE inbox SET size = length(CAST(body AS BLOB)),
    host = lower(CASE WHEN instr(replace(replace(substr(actor, instr(actor, '://') + 3), '?', '/'), '#', '/'), '/') > 0
                THEN substr(replace(replace(substr(actor, instr(actor, '://') + 3), '?', '/'), '#', '/'), 1,
                            instr(replace(replace(substr(actor, instr(actor, '://') + 3), '?', '/'), '#', '/'), '/') - 1)
                ELSE replace(replace(substr(actor, instr(actor, '://') + 3), '?', '/'), '#', '/') END)
    WHERE processed_at IS NULL;
CREATE INDEX inbox_pending_actor ON inbox (actor, size) WHERE processed_at IS NULL;
CREATE INDEX inbox_pending_host ON inbox (host, size) WHERE processed_at IS NULL;

ALTER TABLE remote_objects ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE remote_objects ADD COLUMN host TEXT NOT NULL DEFAULT '';
UPDATE remote_objects SET size = length(CAST(document AS BLOB)),
    host = lower(CASE WHEN instr(replace(replace(substr(author, instr(author, '://') + 3), '?', '/'), '#', '/'), '/') > 0
                THEN substr(replace(replace(substr(author, instr(author, '://') + 3), '?', '/'), '#', '/'), 1,
                            instr(replace(replace(substr(author, instr(author, '://') + 3), '?', '/'), '#', '/'), '/') - 1)
                ELSE replace(replace(substr(author, instr(author, '://') + 3), '?', '/'), '#', '/') END)
    WHERE deleted_at IS NULL;
CREATE INDEX remote_objects_author_size ON remote_objects (author, received_at, size) WHERE deleted_at IS NULL;
CREATE INDEX remote_objects_host ON remote_objects (host, author, size) WHERE deleted_at IS NULL;
-- What doctor and /metrics sum for the bytes stored, in all and in the last hour and day.
CREATE INDEX remote_objects_received_size ON remote_objects (received_at, size) WHERE deleted_at IS NULL;
