-- The palm change feed that lets matcher processes hold copies of the gallery: each palm's
-- virtual shard (palm_index::placement; -1 until the store fills it in on open, since SQL
-- cannot compute it), a version raised by every change, and a tombstone time set when its
-- owner's deletion starts; one outbox row per change, written in the change's transaction,
-- read by the relay in seq order and marked published. Outbox rows have no foreign key: a
-- deletion's rows outlive the palm. Kept in step with the other dialect's 0015_palm_feed.sql.

ALTER TABLE palms ADD COLUMN shard BIGINT NOT NULL DEFAULT -1;
ALTER TABLE palms ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE palms ADD COLUMN deleted BIGINT;
CREATE INDEX palms_shard ON palms (shard, id);

CREATE TABLE palm_outbox (
    seq BIGSERIAL PRIMARY KEY,
    palm_id BIGINT NOT NULL,
    shard BIGINT NOT NULL,
    version BIGINT NOT NULL,
    op TEXT NOT NULL,
    created BIGINT NOT NULL,
    published BIGINT
);
CREATE INDEX palm_outbox_unpublished ON palm_outbox (seq) WHERE published IS NULL;
