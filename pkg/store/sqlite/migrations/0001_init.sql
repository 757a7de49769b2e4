-- kyso's store, SQLite dialect. Times are INTEGER microseconds since the
-- Unix epoch, UTC. Serial numbers are BLOBs: big-endian, positive, 1 to 20
-- octets, no leading zero byte (checked in Go before every write).

CREATE TABLE cas (
	name       TEXT    NOT NULL PRIMARY KEY,
	kind       TEXT    NOT NULL CHECK (kind IN ('root', 'issuing', 'imported-subordinate')),
	key_uri    TEXT    NOT NULL,
	cert_der   BLOB    NOT NULL,
	created    INTEGER NOT NULL
);

CREATE TABLE ca_chain (
	ca       TEXT    NOT NULL REFERENCES cas (name),
	position INTEGER NOT NULL,
	der      BLOB    NOT NULL,
	PRIMARY KEY (ca, position)
);

CREATE TABLE serials (
	issuer      TEXT    NOT NULL,
	serial      BLOB    NOT NULL CHECK (length(serial) BETWEEN 1 AND 20),
	reserved_at INTEGER NOT NULL,
	PRIMARY KEY (issuer, serial)
) WITHOUT ROWID;

CREATE TABLE certificates (
	id          INTEGER PRIMARY KEY, -- insertion order, for "newest first"
	issuer      TEXT    NOT NULL,
	serial      BLOB    NOT NULL,
	der         BLOB    NOT NULL,
	profile     TEXT    NOT NULL,
	subject     TEXT    NOT NULL,
	national_id TEXT    NOT NULL,
	spki_sha256 BLOB    NOT NULL CHECK (length(spki_sha256) = 32),
	key_uri     TEXT    NOT NULL,
	not_before  INTEGER NOT NULL,
	not_after   INTEGER NOT NULL,
	status      TEXT    NOT NULL CHECK (status IN ('good', 'revoked', 'hold')),
	campaign    INTEGER NOT NULL CHECK (campaign IN (0, 1)),
	key_reuse   INTEGER NOT NULL CHECK (key_reuse IN (0, 1)),
	created     INTEGER NOT NULL,
	UNIQUE (issuer, serial),
	FOREIGN KEY (issuer, serial) REFERENCES serials (issuer, serial)
);
CREATE INDEX certificates_national_id ON certificates (national_id);
CREATE INDEX certificates_status ON certificates (status);
CREATE INDEX certificates_spki_sha256 ON certificates (spki_sha256);

-- certified_keys holds each certified public key once: the first
-- certificate that carried it. A certificate stored without AllowKeyReuse
-- must be the one that inserts the row; its primary key is what makes
-- "a key is certified once" hold when two writers race.
CREATE TABLE certified_keys (
	spki_sha256 BLOB NOT NULL PRIMARY KEY,
	issuer      TEXT NOT NULL,
	serial      BLOB NOT NULL,
	FOREIGN KEY (issuer, serial) REFERENCES certificates (issuer, serial)
) WITHOUT ROWID;

-- campaign_holders names, for each national ID, the campaign certificate
-- that holds it. PutCertificate reads and replaces the row in the same
-- transaction as the insert: a holder that is revoked, or expired at the
-- new certificate's notBefore, is replaced; an active one refuses. Revoke
-- deletes the row in the same transaction that revokes the certificate.
CREATE TABLE campaign_holders (
	national_id TEXT NOT NULL PRIMARY KEY,
	issuer      TEXT NOT NULL,
	serial      BLOB NOT NULL,
	FOREIGN KEY (issuer, serial) REFERENCES certificates (issuer, serial)
) WITHOUT ROWID;

CREATE TABLE revocations (
	issuer     TEXT    NOT NULL,
	serial     BLOB    NOT NULL,
	reason     INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL,
	PRIMARY KEY (issuer, serial),
	FOREIGN KEY (issuer, serial) REFERENCES certificates (issuer, serial)
) WITHOUT ROWID;

CREATE TABLE crl_numbers (
	issuer TEXT    NOT NULL PRIMARY KEY,
	last   INTEGER NOT NULL
);

CREATE TABLE crls (
	issuer      TEXT    NOT NULL,
	number      INTEGER NOT NULL CHECK (number > 0),
	der         BLOB    NOT NULL,
	this_update INTEGER NOT NULL,
	next_update INTEGER NOT NULL,
	PRIMARY KEY (issuer, number)
);

-- AUTOINCREMENT: an ID is never reused, even after the highest row is gone
-- (which the triggers below forbid anyway).
CREATE TABLE audit_events (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	time    INTEGER NOT NULL,
	actor   TEXT    NOT NULL,
	action  TEXT    NOT NULL,
	subject TEXT    NOT NULL,
	outcome TEXT    NOT NULL,
	details TEXT    NOT NULL
);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only');
END;
