-- Loyalty: programs and rewards per merchant, memberships linked to people, and the points
-- ledger (one entry per source and kind, so accruals and reversals are idempotent).
-- Kept in step with ../postgres/0003_loyalty.sql.

ALTER TABLE payments ADD COLUMN discount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN reward_id TEXT;

CREATE TABLE loyalty_programs (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    name TEXT NOT NULL,
    points_per_unit INTEGER NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX loyalty_programs_merchant ON loyalty_programs (merchant_id);

CREATE TABLE loyalty_rewards (
    id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL REFERENCES loyalty_programs(id),
    name TEXT NOT NULL,
    points_cost INTEGER NOT NULL,
    discount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX loyalty_rewards_program ON loyalty_rewards (program_id);

CREATE TABLE memberships (
    id TEXT PRIMARY KEY,
    program_id TEXT NOT NULL REFERENCES loyalty_programs(id),
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    member_number TEXT NOT NULL,
    balance INTEGER NOT NULL,
    created INTEGER NOT NULL,
    CONSTRAINT memberships_person UNIQUE (program_id, person_id),
    CONSTRAINT memberships_number UNIQUE (program_id, member_number)
);
CREATE INDEX memberships_person_id ON memberships (person_id);

CREATE TABLE loyalty_ledger (
    id TEXT PRIMARY KEY,
    membership_id TEXT NOT NULL REFERENCES memberships(id) ON DELETE CASCADE,
    source_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    points INTEGER NOT NULL,
    created INTEGER NOT NULL,
    CONSTRAINT loyalty_ledger_once UNIQUE (membership_id, source_id, kind)
);
CREATE INDEX loyalty_ledger_source ON loyalty_ledger (source_id);
