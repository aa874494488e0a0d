-- Timelines merge this node's posts and remote notes by time. Each side is read newest first from an index that
-- holds exactly the rows that side may show, so a page costs a few index steps however many rows are hidden.
CREATE INDEX posts_published ON posts (published, id) WHERE deleted_at IS NULL;
CREATE INDEX posts_public_published ON posts (published, id) WHERE deleted_at IS NULL AND visibility = 'public';
CREATE INDEX posts_author_published ON posts (author_id, published, id) WHERE deleted_at IS NULL;
CREATE INDEX remote_objects_public_timeline ON remote_objects (received_at) WHERE deleted_at IS NULL AND public = 1;
