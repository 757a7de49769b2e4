-- The campaign's reports read the enrolment records alone (issue 18: every
-- report under 2 s at a million enrolments). Each record keeps the
-- certificate its credential names now and that certificate's state —
-- status and notAfter — written in the same transaction as every change
-- of either: enrolment, revocation, hold, its release, and renewal (the
-- credential moving to its new certificate). A report counts "expired" at
-- its own time from cert_not_after, so nothing here depends on the clock.
-- cert_status is NULL when the credential names no stored certificate:
-- such a record is not counted, as the join the report was did not.
-- The covering indexes hold every column a report reads, so a report is
-- one index-only scan, grouped; enrolment_records_certificate finds a
-- certificate's record when it is revoked or held. 0024's
-- credentials_certificate served only the report's join: dropped.
-- (certificates_state stays: a certificate's lookup may use it.)
ALTER TABLE enrolment_records
	ADD COLUMN cert_issuer text,
	ADD COLUMN cert_serial bytea,
	ADD COLUMN cert_status text CHECK (cert_status IN ('good', 'revoked', 'hold')),
	ADD COLUMN cert_not_after timestamptz;
-- The indexes are dropped before the backfill and made after it: one
-- sorted build each, not an entry per updated row.
DROP INDEX enrolment_records_created;
DROP INDEX enrolment_records_area;
DROP INDEX credentials_certificate;
UPDATE enrolment_records e SET cert_issuer = cr.cert_issuer, cert_serial = cr.cert_serial,
	cert_status = c.status, cert_not_after = c.not_after
	FROM credentials cr LEFT JOIN certificates c ON c.issuer = cr.cert_issuer AND c.serial = cr.cert_serial
	WHERE cr.id = e.credential_id;
CREATE INDEX enrolment_records_certificate ON enrolment_records (cert_serial);
CREATE INDEX enrolment_records_created ON enrolment_records (created_at)
	INCLUDE (province, ward, channel, cert_status, cert_not_after);
CREATE INDEX enrolment_records_area ON enrolment_records (province, ward, created_at)
	INCLUDE (channel, cert_status, cert_not_after);
