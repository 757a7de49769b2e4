-- Every hot query on an index (issue 19, national scale; docs/DESIGN.md
-- "Hot queries" lists each and its index, and the drivers' plan tests
-- check them). The certificate list (issuer, newest first) and the lookup
-- of the current OCSP, TSA, TLS or receipt certificate (issuer, profile,
-- status good, newest first) read their page in index order instead of
-- sorting every certificate; an owner's signatures (KeyHistory) are found
-- by the owner their details name, not by reading the whole audit log.
CREATE INDEX certificates_issuer_created ON certificates (issuer, created, id);
CREATE INDEX certificates_profile ON certificates (issuer, profile, created, id);
-- An owner's certificates from an issuer, newest first, in index order
-- (the national ID alone still leads, for the campaign check).
DROP INDEX certificates_national_id;
CREATE INDEX certificates_national_id ON certificates (national_id, issuer, created, id);
CREATE INDEX audit_events_signatures ON audit_events (json_extract(details, '$.owner'), id)
	WHERE action = 'signature.create';
-- The expiry and recovery sweeps take rows in (time, id) order; their
-- partial indexes now hold the id too, so a sweep reads its limit in index
-- order instead of sorting every pending or approved transaction, and
-- lead with the status, which SQLite's planner (without statistics)
-- otherwise prefers to find through transactions_status and then sort.
DROP INDEX transactions_overdue;
CREATE INDEX transactions_overdue ON transactions (status, expires_at, id) WHERE status = 'pending';
DROP INDEX transactions_leased;
CREATE INDEX transactions_leased ON transactions (status, lease_until, id) WHERE status = 'approved';
-- The certificates counted by status (the kyso_certificates metric, read
-- at kysod's start and every minute), kept in the writes that issue,
-- revoke, hold and release them, so that a count reads a few rows instead
-- of every certificate. Each status is spread over shards (0-15, one
-- chosen at random per write) so that concurrent issuances seldom wait
-- for one row.
CREATE TABLE certificate_counts (
	status TEXT    NOT NULL CHECK (status IN ('good', 'revoked', 'hold')),
	shard  INTEGER NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (status, shard)
) WITHOUT ROWID;
INSERT INTO certificate_counts (status, shard, n) SELECT status, 0, count(*) FROM certificates GROUP BY status;
