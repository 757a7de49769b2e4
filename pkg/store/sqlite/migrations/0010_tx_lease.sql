-- A transaction being signed is leased to the replica signing it (issue
-- 16): lease_owner names the replica, lease_until is when another may take
-- it over. The approval that moves it to 'approved' takes the lease in the
-- same write; the recovery sweep (ClaimApproved) takes an approved
-- transaction whose lease has ended and fails it. transactions_leased
-- holds only approved rows, the ones the sweep searches.
ALTER TABLE transactions ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE transactions ADD COLUMN lease_until INTEGER;
CREATE INDEX transactions_leased ON transactions (lease_until) WHERE status = 'approved';
-- The key a portal de-duplicates deliveries by (the Idempotency-Key
-- header): one per final state of a transaction, the same on every retry.
ALTER TABLE webhooks ADD COLUMN idempotency_key TEXT NOT NULL DEFAULT '';
