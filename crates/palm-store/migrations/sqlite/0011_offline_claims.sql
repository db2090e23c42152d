-- Decisions a gate made offline and uploaded later are its claim, not the server's decision:
-- marked so, whatever they say.
ALTER TABLE entries ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;
