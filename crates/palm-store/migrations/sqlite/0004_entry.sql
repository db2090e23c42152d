-- Venue entry: venues with gates (device credentials), events with capacity and re-entry rules,
-- passes (ticket, membership, staff) per event, entry and exit records, and age verification
-- done by staff (who, when, which document type; never the document). Kept in step with
-- ../postgres/0004_entry.sql.

CREATE TABLE venues (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    name TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE gates (
    id TEXT PRIMARY KEY,
    venue_id TEXT NOT NULL REFERENCES venues(id),
    merchant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    age_restricted INTEGER NOT NULL,
    secret_hash TEXT NOT NULL,
    CONSTRAINT gates_secret UNIQUE (secret_hash)
);

CREATE TABLE venue_events (
    id TEXT PRIMARY KEY,
    venue_id TEXT NOT NULL REFERENCES venues(id),
    merchant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    starts INTEGER NOT NULL,
    ends INTEGER NOT NULL,
    capacity INTEGER NOT NULL,
    reentry INTEGER NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE passes (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES venue_events(id),
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    created INTEGER NOT NULL,
    CONSTRAINT passes_once UNIQUE (event_id, person_id)
);

CREATE TABLE entries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES venue_events(id),
    gate_id TEXT NOT NULL REFERENCES gates(id),
    person_id TEXT,
    direction TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    reason TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX entries_event_person ON entries (event_id, person_id);

CREATE TABLE age_verifications (
    person_id TEXT PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    verified_by TEXT NOT NULL,
    document_type TEXT NOT NULL,
    verified_at INTEGER NOT NULL
);
