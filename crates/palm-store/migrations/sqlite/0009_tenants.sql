-- A deletion request belongs to the merchant whose till took it: only that merchant's tills can
-- confirm it (or even learn that it exists). Requests from before this column match no one and
-- expire within minutes.
ALTER TABLE deletion_requests ADD COLUMN merchant_id TEXT;

-- A disabled merchant (palmline merchants disable): its key, tills, gates and devices are refused.
ALTER TABLE merchants ADD COLUMN disabled INTEGER;

-- Age checks belong to the merchant whose staff made them: one merchant's check never opens
-- another merchant's age-restricted gate. Existing checks go to the merchant named in their
-- `verified_by` ("<merchant>/<staff>").
CREATE TABLE merchant_age_verifications (
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    verified_by TEXT NOT NULL,
    document_type TEXT NOT NULL,
    verified_at INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, person_id)
);
INSERT INTO merchant_age_verifications
    SELECT substr(verified_by, 1, instr(verified_by, '/') - 1), person_id, verified_by,
           document_type, verified_at
    FROM age_verifications
    WHERE substr(verified_by, 1, instr(verified_by, '/') - 1) IN (SELECT id FROM merchants);
DROP TABLE age_verifications;
