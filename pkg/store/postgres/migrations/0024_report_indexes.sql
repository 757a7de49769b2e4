-- The campaign's reports at a million enrolments (issue 18; kyso bench
-- report). A report counts its period's enrolments by area and channel
-- with the state of each one's certificate: every enrolment of the
-- period, joined to its credential and certificate. Read from the heaps,
-- that join reads the whole of credentials and certificates (a
-- certificate row carries its DER: about 1 KB); these covering indexes
-- hold only what the count reads, so the join runs on index-only scans
-- a tenth of that size. A period without an area is found by its time.
CREATE INDEX enrolment_records_created ON enrolment_records (created_at);
CREATE INDEX credentials_certificate ON credentials (id) INCLUDE (cert_issuer, cert_serial);
CREATE INDEX certificates_state ON certificates (issuer, serial) INCLUDE (status, not_after);
