-- A deletion request belongs to the merchant whose till took it: only that merchant's tills can
-- confirm it (or even learn that it exists). Requests from before this column match no one and
-- expire within minutes.
ALTER TABLE deletion_requests ADD COLUMN merchant_id TEXT;

-- A disabled merchant (palmline merchants disable): its key, tills, gates and devices are refused.
ALTER TABLE merchants ADD COLUMN disabled BIGINT;
