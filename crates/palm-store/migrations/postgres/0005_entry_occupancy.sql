-- The number of people inside an event, kept next to its capacity so that an admission is one
-- conditional UPDATE: two gates admitting the last place at once serialise on the event's row
-- and only one of them succeeds.
ALTER TABLE venue_events ADD COLUMN inside BIGINT NOT NULL DEFAULT 0;
UPDATE venue_events SET inside = (
    SELECT COALESCE(SUM(CASE WHEN direction = 'in' THEN 1 WHEN direction = 'out' THEN -1 ELSE 0 END), 0)
    FROM entries WHERE entries.event_id = venue_events.id AND entries.allowed = 1
);
