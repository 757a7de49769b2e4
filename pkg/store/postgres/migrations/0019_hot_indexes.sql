-- Every hot query on an index (issue 19, national scale; docs/DESIGN.md
-- "Hot queries" lists each and its index, and the drivers' plan tests
-- check them). The certificate list (issuer, newest first) and the lookup
-- of the current OCSP, TSA, TLS or receipt certificate (issuer, profile,
-- status good, newest first) read their page in index order instead of
-- scanning the table; an owner's signatures (KeyHistory) are found by the
-- owner their details name, not by reading the whole audit log.
CREATE INDEX certificates_issuer_created ON certificates (issuer, created, id);
CREATE INDEX certificates_profile ON certificates (issuer, profile, created, id);
-- An owner's certificates from an issuer, newest first, in index order
-- (the national ID alone still leads, for the campaign check).
DROP INDEX certificates_national_id;
CREATE INDEX certificates_national_id ON certificates (national_id, issuer, created, id);
-- The owner is read from the details' text, not with ->>: PostgreSQL's
-- JSON operators refuse a document holding \u0000 anywhere ("unsupported
-- Unicode escape sequence"), which would make the signature's write fail.
-- kyso writes the owner as a flat key with an ID for its value (no quote,
-- no backslash); KeyHistory checks the owner again from the parsed details,
-- so the index only has to find every row that names the owner.
CREATE FUNCTION kyso_audit_owner(details json) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS $$ SELECT substring(details::text FROM '"owner"\s*:\s*"([^"\\]*)"') $$;
CREATE INDEX audit_events_signatures ON audit_events (kyso_audit_owner(details), id)
	WHERE action = 'signature.create';
-- The expiry sweep takes rows in (expires_at, id) order; its partial
-- index now holds the id too (as transactions_leased does), so a sweep
-- reads its limit in index order instead of sorting.
DROP INDEX transactions_overdue;
CREATE INDEX transactions_overdue ON transactions (expires_at, id) WHERE status = 'pending';
-- The certificates counted by status (the kyso_certificates metric, read
-- at kysod's start and every minute), kept in the writes that issue,
-- revoke, hold and release them, so that a count reads a few rows instead
-- of every certificate. Each status is spread over shards (0-15, one
-- chosen at random per write) so that concurrent issuances seldom wait
-- for one row's lock.
CREATE TABLE certificate_counts (
	status text    NOT NULL CHECK (status IN ('good', 'revoked', 'hold')),
	shard  integer NOT NULL,
	n      bigint  NOT NULL,
	PRIMARY KEY (status, shard)
);
INSERT INTO certificate_counts (status, shard, n) SELECT status, 0, count(*) FROM certificates GROUP BY status;
