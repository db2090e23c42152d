-- Paired devices (scanners at tills, gate readers): one-time pairing codes, each device's public
-- keys and the till or gate it is bound to, and the nonces of signed requests and sealed captures
-- (kept a few minutes, so a replay within the freshness window is refused).
-- Kept in step with ../postgres/0006_devices.sql.

CREATE TABLE pairing_codes (
    code_hash TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    till_id TEXT,
    gate_id TEXT,
    expires INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    name TEXT NOT NULL,
    till_id TEXT,
    gate_id TEXT,
    signing_key BLOB NOT NULL,
    seal_key BLOB NOT NULL,
    created INTEGER NOT NULL,
    revoked INTEGER
);

CREATE INDEX devices_merchant ON devices (merchant_id, id);

CREATE TABLE nonces (
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (scope, nonce)
);

CREATE INDEX nonces_created ON nonces (created);
