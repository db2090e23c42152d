-- Paired devices (scanners at tills, gate readers): one-time pairing codes, each device's public
-- keys and the till or gate it is bound to, and the nonces of signed requests and sealed captures
-- (kept a few minutes, so a replay within the freshness window is refused).
-- Kept in step with ../sqlite/0006_devices.sql.

CREATE TABLE pairing_codes (
    code_hash TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    till_id TEXT,
    gate_id TEXT,
    expires BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE devices (
    id TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    name TEXT NOT NULL,
    till_id TEXT,
    gate_id TEXT,
    signing_key BYTEA NOT NULL,
    seal_key BYTEA NOT NULL,
    created BIGINT NOT NULL,
    revoked BIGINT
);

CREATE INDEX devices_merchant ON devices (merchant_id, id);

CREATE TABLE nonces (
    scope TEXT COLLATE "C" NOT NULL,
    nonce TEXT COLLATE "C" NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (scope, nonce)
);

CREATE INDEX nonces_created ON nonces (created);
