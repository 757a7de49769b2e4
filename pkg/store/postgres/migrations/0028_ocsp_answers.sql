-- Pre-signed OCSP answers (issue 19). The PKI's upkeep signs an answer for
-- each of the issuing CA's certificates ahead of any request and keeps it
-- here, keyed like the certificate; the responder reads it on a cache miss
-- instead of signing. der is the OCSPResponse without the responder's
-- certificate (outside the signature; added when served), responder the
-- SHA-256 of the certificate that signed it (an answer by a replaced
-- responder is not served), version the certificate's ocsp_version it was
-- signed for: every change of a certificate's status raises ocsp_version
-- and makes the stored answer due (refresh_at at the epoch) in its own
-- transaction — a trigger, so that no writer (an older kysod or kyso during
-- a rolling upgrade, an operator's SQL) can change a status and leave a
-- stale answer current — and an answer whose version is not the
-- certificate's is never served nor stored over a newer one. refresh_at is half the
-- answer's validity (or the epoch, for one made stale), on
-- ocsp_answers_due: the pass finds what to sign again without a scan.
ALTER TABLE certificates ADD COLUMN ocsp_version bigint NOT NULL DEFAULT 0;
CREATE TABLE ocsp_answers (
	issuer      text        NOT NULL,
	serial      bytea       NOT NULL,
	der         bytea       NOT NULL,
	status      text        NOT NULL CHECK (status IN ('good', 'revoked', 'hold')),
	version     bigint      NOT NULL,
	responder   bytea       NOT NULL CHECK (octet_length(responder) = 32),
	this_update timestamptz NOT NULL,
	next_update timestamptz NOT NULL,
	refresh_at  timestamptz NOT NULL,
	PRIMARY KEY (issuer, serial)
);
CREATE INDEX ocsp_answers_due ON ocsp_answers (issuer, refresh_at, serial);
CREATE FUNCTION certificates_ocsp_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.ocsp_version := OLD.ocsp_version + 1;
	UPDATE ocsp_answers SET refresh_at = 'epoch' WHERE issuer = NEW.issuer AND serial = NEW.serial;
	RETURN NEW;
END $$;
CREATE TRIGGER certificates_ocsp_stale BEFORE UPDATE OF status ON certificates
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION certificates_ocsp_stale();
