-- Issue 18's leftovers. An online enrolment names the registration it
-- approves (registration_id, written in the enrolment's one write; empty
-- for every other enrolment), so an approval that stopped after enrolling
-- is found and completed rather than enrolled again: at most one
-- enrolment per registration. A claim link ends at claim_until (NULL: set
-- before this migration, read as the decision's time plus the lifetime
-- configured); an officer's reissue replaces claim_hash and keeps the one
-- it replaced in replaced_claim_hash, to tell its holder the link was
-- replaced.
ALTER TABLE enrolment_records ADD COLUMN registration_id TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX enrolment_records_registration ON enrolment_records (registration_id) WHERE registration_id <> '';
ALTER TABLE registrations ADD COLUMN claim_until INTEGER;
ALTER TABLE registrations ADD COLUMN replaced_claim_hash BLOB;
