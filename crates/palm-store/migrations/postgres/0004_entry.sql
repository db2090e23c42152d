-- Venue entry: venues with gates (device credentials), events with capacity and re-entry rules,
-- passes (ticket, membership, staff) per event, entry and exit records, and age verification
-- done by staff (who, when, which document type; never the document). Kept in step with
-- ../sqlite/0004_entry.sql.

CREATE TABLE venues (
    id TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    name TEXT NOT NULL,
    created BIGINT NOT NULL
);

CREATE TABLE gates (
    id TEXT COLLATE "C" PRIMARY KEY,
    venue_id TEXT NOT NULL REFERENCES venues(id),
    merchant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    age_restricted BIGINT NOT NULL,
    secret_hash TEXT NOT NULL,
    CONSTRAINT gates_secret UNIQUE (secret_hash)
);

CREATE TABLE venue_events (
    id TEXT COLLATE "C" PRIMARY KEY,
    venue_id TEXT NOT NULL REFERENCES venues(id),
    merchant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    starts BIGINT NOT NULL,
    ends BIGINT NOT NULL,
    capacity BIGINT NOT NULL,
    reentry BIGINT NOT NULL,
    created BIGINT NOT NULL
);

CREATE TABLE passes (
    id TEXT COLLATE "C" PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES venue_events(id),
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    created BIGINT NOT NULL,
    CONSTRAINT passes_once UNIQUE (event_id, person_id)
);

CREATE TABLE entries (
    id TEXT COLLATE "C" PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES venue_events(id),
    gate_id TEXT NOT NULL REFERENCES gates(id),
    person_id TEXT,
    direction TEXT NOT NULL,
    allowed BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX entries_event_person ON entries (event_id, person_id);

CREATE TABLE age_verifications (
    person_id TEXT COLLATE "C" PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    verified_by TEXT NOT NULL,
    document_type TEXT NOT NULL,
    verified_at BIGINT NOT NULL
);
