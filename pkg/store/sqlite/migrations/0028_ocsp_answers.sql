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
ALTER TABLE certificates ADD COLUMN ocsp_version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE ocsp_answers (
	issuer      TEXT    NOT NULL,
	serial      BLOB    NOT NULL,
	der         BLOB    NOT NULL,
	status      TEXT    NOT NULL CHECK (status IN ('good', 'revoked', 'hold')),
	version     INTEGER NOT NULL,
	responder   BLOB    NOT NULL CHECK (length(responder) = 32),
	this_update INTEGER NOT NULL,
	next_update INTEGER NOT NULL,
	refresh_at  INTEGER NOT NULL,
	PRIMARY KEY (issuer, serial)
) WITHOUT ROWID;
CREATE INDEX ocsp_answers_due ON ocsp_answers (issuer, refresh_at, serial);
CREATE TRIGGER certificates_ocsp_stale AFTER UPDATE OF status ON certificates
	WHEN OLD.status IS NOT NEW.status
BEGIN
	UPDATE certificates SET ocsp_version = ocsp_version + 1 WHERE id = NEW.id;
	UPDATE ocsp_answers SET refresh_at = 0 WHERE issuer = NEW.issuer AND serial = NEW.serial;
END;
