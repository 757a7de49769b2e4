-- kyso's store, PostgreSQL dialect. Times are timestamptz (microseconds,
-- UTC). Serial numbers are bytea: big-endian, positive, 1 to 20 octets, no
-- leading zero byte (checked in Go before every write; the CHECKs below
-- repeat what SQL can say).

CREATE TABLE cas (
	seq      bigint      GENERATED ALWAYS AS IDENTITY UNIQUE, -- insertion order
	name     text        NOT NULL PRIMARY KEY,
	kind     text        NOT NULL CHECK (kind IN ('root', 'issuing', 'imported-subordinate')),
	key_uri  text        NOT NULL,
	cert_der bytea       NOT NULL,
	created  timestamptz NOT NULL
);

CREATE TABLE ca_chain (
	ca       text    NOT NULL REFERENCES cas (name),
	position integer NOT NULL,
	der      bytea   NOT NULL,
	PRIMARY KEY (ca, position)
);

CREATE TABLE serials (
	issuer      text        NOT NULL,
	serial      bytea       NOT NULL CHECK (octet_length(serial) BETWEEN 1 AND 20 AND get_byte(serial, 0) BETWEEN 1 AND 127),
	reserved_at timestamptz NOT NULL,
	PRIMARY KEY (issuer, serial)
);

CREATE TABLE certificates (
	id          bigint      GENERATED ALWAYS AS IDENTITY UNIQUE, -- insertion order
	issuer      text        NOT NULL,
	serial      bytea       NOT NULL,
	der         bytea       NOT NULL,
	profile     text        NOT NULL,
	subject     text        NOT NULL,
	national_id text        NOT NULL,
	spki_sha256 bytea       NOT NULL CHECK (octet_length(spki_sha256) = 32),
	key_uri     text        NOT NULL,
	not_before  timestamptz NOT NULL,
	not_after   timestamptz NOT NULL,
	status      text        NOT NULL CHECK (status IN ('good', 'revoked', 'hold')),
	campaign    boolean     NOT NULL,
	key_reuse   boolean     NOT NULL,
	created     timestamptz NOT NULL,
	PRIMARY KEY (issuer, serial),
	FOREIGN KEY (issuer, serial) REFERENCES serials (issuer, serial)
);
CREATE INDEX certificates_national_id ON certificates (national_id);
CREATE INDEX certificates_status ON certificates (status);
CREATE INDEX certificates_spki_sha256 ON certificates (spki_sha256);
CREATE INDEX certificates_created ON certificates (created DESC, id DESC);

-- certified_keys holds each certified public key once: the first
-- certificate that carried it. A certificate stored without AllowKeyReuse
-- must be the one that inserts the row; its primary key is what makes
-- "a key is certified once" hold when two writers race (INSERT ... ON
-- CONFLICT DO NOTHING waits for the other's transaction to end).
CREATE TABLE certified_keys (
	spki_sha256 bytea NOT NULL PRIMARY KEY,
	issuer      text  NOT NULL,
	serial      bytea NOT NULL,
	FOREIGN KEY (issuer, serial) REFERENCES certificates (issuer, serial)
);

-- campaign_holders names, for each national ID, the campaign certificate
-- that holds it. PutCertificate locks (SELECT ... FOR UPDATE) or inserts
-- the row in the same transaction as the certificate: a holder that is
-- revoked, or expired at the new certificate's notBefore, is replaced; an
-- active one refuses. Revoke deletes the row in the transaction that
-- revokes the certificate. A partial unique index could not say "expired".
CREATE TABLE campaign_holders (
	national_id text  NOT NULL PRIMARY KEY,
	issuer      text  NOT NULL,
	serial      bytea NOT NULL,
	FOREIGN KEY (issuer, serial) REFERENCES certificates (issuer, serial)
);

CREATE TABLE revocations (
	issuer     text        NOT NULL,
	serial     bytea       NOT NULL,
	reason     integer     NOT NULL,
	revoked_at timestamptz NOT NULL,
	PRIMARY KEY (issuer, serial),
	FOREIGN KEY (issuer, serial) REFERENCES certificates (issuer, serial)
);

CREATE TABLE crl_numbers (
	issuer text   NOT NULL PRIMARY KEY,
	last   bigint NOT NULL
);

CREATE TABLE crls (
	issuer      text        NOT NULL,
	number      bigint      NOT NULL CHECK (number > 0),
	der         bytea       NOT NULL,
	this_update timestamptz NOT NULL,
	next_update timestamptz NOT NULL,
	PRIMARY KEY (issuer, number)
);

-- IDs come from an identity column, and AppendAudit takes a transaction
-- advisory lock first, so IDs also increase in commit order: a reader
-- paging by ID never skips an event committed late under a smaller ID.
-- json (not jsonb) keeps the caller's bytes.
CREATE TABLE audit_events (
	id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time    timestamptz NOT NULL,
	actor   text        NOT NULL,
	action  text        NOT NULL,
	subject text        NOT NULL,
	outcome text        NOT NULL,
	details json        NOT NULL
);
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
	FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
