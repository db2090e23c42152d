-- When a payment's processor operation was claimed: the reconciler settles claims older than the
-- processor's time limit (a capture or void whose answer was lost to a timeout or a crash).
ALTER TABLE payments ADD COLUMN operation_since BIGINT;
-- Which run of the server holds an idempotency key that has no answer yet: a key held by a run
-- that has ended (a crash), or held past the request time limit, is taken over by the next retry,
-- which runs the request again and so learns the outcome.
ALTER TABLE idempotency_keys ADD COLUMN owner TEXT;
-- The object a keyed request created (a payment, a refund), written in the same transaction as
-- the object: a request run again after a crash answers with it instead of creating another.
ALTER TABLE idempotency_keys ADD COLUMN object_id TEXT;
