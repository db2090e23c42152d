-- The processor operation (capture:<amount> or void) a payment waiting for capture has in flight:
-- claimed before the processor is called, so two captures with different amounts, or a capture
-- and a void, never race; a retry of the same operation may proceed (the processor's idempotency
-- key gives it the first outcome). Released when the processor refuses the operation.
ALTER TABLE payments ADD COLUMN operation TEXT;
