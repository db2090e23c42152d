-- A sign-up from phone photos is pending until the first till capture matches it (that capture
-- is then kept as a second template of the hand): when it was made, NULL once confirmed.
ALTER TABLE people ADD COLUMN pending_since BIGINT;
