-- Palmline schema (SQLite). Kept in step with ../postgres/0001_initial.sql: same tables, columns
-- and constraint names; only the type names differ (BLOB/BYTEA, INTEGER/BIGINT).
-- Sealed columns hold AES-256-GCM ciphertext under the owner's data key; *_hash and
-- *_fingerprint columns hold SHA-256 or keyed HMAC digests; nothing here is a secret in the clear.

CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    api_key_hash TEXT NOT NULL,
    created INTEGER NOT NULL,
    CONSTRAINT merchants_api_key UNIQUE (api_key_hash)
);

CREATE TABLE tills (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    store_name TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    CONSTRAINT tills_secret UNIQUE (secret_hash)
);
CREATE INDEX tills_merchant ON tills (merchant_id);

CREATE TABLE people (
    id TEXT PRIMARY KEY,
    phone_sealed BLOB NOT NULL,
    phone_fingerprint TEXT NOT NULL,
    phone_last4 TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    default_card TEXT,
    created INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    CONSTRAINT people_phone UNIQUE (phone_fingerprint)
);

CREATE TABLE consents (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    text_version TEXT NOT NULL,
    accepted_at INTEGER NOT NULL
);
CREATE INDEX consents_person ON consents (person_id);

CREATE TABLE palms (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    hand TEXT NOT NULL,
    template_sealed BLOB NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX palms_person ON palms (person_id);

CREATE TABLE cards (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    number_sealed BLOB NOT NULL,
    holder_sealed BLOB NOT NULL,
    fingerprint TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX cards_person ON cards (person_id);
CREATE INDEX cards_fingerprint ON cards (fingerprint);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    expires INTEGER NOT NULL
);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    till_id TEXT NOT NULL REFERENCES tills(id),
    amount INTEGER NOT NULL,
    tip INTEGER NOT NULL,
    currency TEXT NOT NULL,
    reference TEXT,
    capture_method TEXT NOT NULL,
    status TEXT NOT NULL,
    person_id TEXT,
    card_id TEXT,
    card_brand TEXT,
    card_last4 TEXT,
    charge_ref TEXT,
    attempt_key TEXT,
    decline_code TEXT,
    amount_captured INTEGER NOT NULL,
    amount_refunded INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE INDEX payments_merchant ON payments (merchant_id, id);
CREATE INDEX payments_status ON payments (status, updated);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments(id),
    merchant_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    processor_ref TEXT,
    created INTEGER NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX events_object ON events (merchant_id, object_id);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    url TEXT NOT NULL,
    secret_sealed BLOB NOT NULL,
    wrapped_key BLOB NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events(id),
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    merchant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt INTEGER,
    last_status_code INTEGER,
    last_error TEXT,
    created INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt);
CREATE INDEX webhook_deliveries_merchant ON webhook_deliveries (merchant_id, id);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);
