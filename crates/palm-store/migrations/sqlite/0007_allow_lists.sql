-- Allow-lists issued to gate devices for offline decisions: which device got which event's
-- list, until when, and whether it was revoked (checked by the gate whenever it is online).
-- The list's content is never stored: it is built, sealed to the device and sent.
CREATE TABLE allow_lists (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES venue_events(id),
    device_id TEXT NOT NULL REFERENCES devices(id),
    issued INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    revoked INTEGER
);

CREATE INDEX allow_lists_event ON allow_lists (event_id);
