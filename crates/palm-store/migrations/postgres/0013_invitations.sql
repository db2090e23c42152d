-- A merchant adds a loyalty member or an event pass by phone number as an invitation: answered
-- the same whether or not the number is enrolled (no one learns who is by trying numbers), and
-- turned into the membership or pass at the person's next palm scan at that merchant, their
-- scan being their acceptance. Unclaimed invitations expire.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants(id),
    kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    phone_fingerprint TEXT NOT NULL,
    detail TEXT,
    created BIGINT NOT NULL,
    CONSTRAINT invitations_once UNIQUE (kind, target_id, phone_fingerprint)
);
CREATE INDEX invitations_phone ON invitations (merchant_id, phone_fingerprint);
CREATE INDEX invitations_created ON invitations (created);
