-- The campaign's reports read the enrolment records alone (issue 18; the
-- PostgreSQL migration 0027 says why). Each record keeps the certificate
-- its credential names now and that certificate's status and notAfter,
-- written in the same transaction as every change of either; cert_status
-- is NULL when the credential names no stored certificate (not counted).
-- The indexes cover every column a report reads.
ALTER TABLE enrolment_records ADD COLUMN cert_issuer TEXT;
ALTER TABLE enrolment_records ADD COLUMN cert_serial BLOB;
ALTER TABLE enrolment_records ADD COLUMN cert_status TEXT CHECK (cert_status IN ('good', 'revoked', 'hold'));
ALTER TABLE enrolment_records ADD COLUMN cert_not_after INTEGER;
DROP INDEX enrolment_records_created;
DROP INDEX enrolment_records_area;
UPDATE enrolment_records SET
	cert_issuer = (SELECT cr.cert_issuer FROM credentials cr WHERE cr.id = enrolment_records.credential_id),
	cert_serial = (SELECT cr.cert_serial FROM credentials cr WHERE cr.id = enrolment_records.credential_id);
UPDATE enrolment_records SET
	cert_status = (SELECT c.status FROM certificates c WHERE c.issuer = enrolment_records.cert_issuer AND c.serial = enrolment_records.cert_serial),
	cert_not_after = (SELECT c.not_after FROM certificates c WHERE c.issuer = enrolment_records.cert_issuer AND c.serial = enrolment_records.cert_serial);
CREATE INDEX enrolment_records_certificate ON enrolment_records (cert_serial);
CREATE INDEX enrolment_records_created ON enrolment_records (created_at, province, ward, channel, cert_status, cert_not_after);
CREATE INDEX enrolment_records_area ON enrolment_records (province, ward, created_at, channel, cert_status, cert_not_after);
