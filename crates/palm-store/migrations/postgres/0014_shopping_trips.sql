-- Walk-out shopping: a store's walk-out settings (its trips' holds are payments at its own
-- till), shopping trips, the item events the store's sensors report (unique per trip by the
-- store's own event id), and disputed receipt lines. Kept in step with the other dialect's
-- 0014_shopping_trips.sql.

CREATE TABLE walk_out_venues (
    venue_id TEXT COLLATE "C" PRIMARY KEY REFERENCES venues(id),
    merchant_id TEXT NOT NULL,
    till_id TEXT NOT NULL REFERENCES tills(id),
    currency TEXT NOT NULL,
    hold BIGINT NOT NULL,
    tax_rate_bps BIGINT NOT NULL
);

CREATE TABLE shopping_trips (
    id TEXT COLLATE "C" PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    venue_id TEXT NOT NULL REFERENCES venues(id),
    gate_id TEXT NOT NULL,
    person_id TEXT,
    party_size BIGINT NOT NULL,
    status TEXT NOT NULL,
    payment_id TEXT NOT NULL REFERENCES payments(id),
    currency TEXT NOT NULL,
    hold BIGINT NOT NULL,
    tax_rate_bps BIGINT NOT NULL,
    subtotal BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    total BIGINT NOT NULL,
    charged BIGINT NOT NULL,
    opened BIGINT NOT NULL,
    closed BIGINT,
    closed_by TEXT,
    decline_code TEXT,
    updated BIGINT NOT NULL
);
CREATE INDEX shopping_trips_merchant ON shopping_trips (merchant_id, id);
CREATE INDEX shopping_trips_status ON shopping_trips (status, updated);
-- One trip a person can still be shopping on per store: two scans at once cannot open two holds.
CREATE UNIQUE INDEX one_live_trip ON shopping_trips (venue_id, person_id)
    WHERE status IN ('opening', 'open');

CREATE TABLE trip_events (
    trip_id TEXT NOT NULL REFERENCES shopping_trips(id),
    event_id TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    product TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    -- The sensor's confidence in millionths.
    confidence_ppm BIGINT NOT NULL,
    occurred_ms BIGINT NOT NULL,
    received BIGINT NOT NULL,
    PRIMARY KEY (trip_id, event_id)
);

CREATE TABLE trip_adjustments (
    id TEXT COLLATE "C" PRIMARY KEY,
    trip_id TEXT NOT NULL REFERENCES shopping_trips(id),
    seq BIGINT NOT NULL,
    merchant_id TEXT NOT NULL,
    product TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    refund_id TEXT,
    created BIGINT NOT NULL,
    CONSTRAINT adjustment_seq UNIQUE (trip_id, seq)
);
