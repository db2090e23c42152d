-- Privacy rights: deletion requests (a code sent to the person's phone), people awaiting deletion
-- while a payment is in flight, and the append-only audit log of reads of biometric data.
-- Kept in step with ../sqlite/0002_privacy.sql.

ALTER TABLE people ADD COLUMN deletion_requested BIGINT;

-- No foreign key: a used request outlives its person, so a replayed code is recognised.
CREATE TABLE deletion_requests (
    id TEXT COLLATE "C" PRIMARY KEY,
    person_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    expires BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    used BIGINT NOT NULL,
    created BIGINT NOT NULL
);

-- No foreign key: the log outlives the people it mentions.
CREATE TABLE audit_log (
    id TEXT COLLATE "C" PRIMARY KEY,
    person_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX audit_log_person ON audit_log (person_id, id);
CREATE INDEX people_last_used ON people (last_used);
