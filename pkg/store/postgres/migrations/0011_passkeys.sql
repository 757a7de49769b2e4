-- Passkeys (issue 15): an owner's WebAuthn credentials, and the
-- challenges the service issued for them. A credential ID is unique
-- across owners; public_key is the COSE_Key; sign_count the
-- authenticator's counter at the last use; flags the authenticator data
-- flags at registration; transports comma-separated. A challenge is kept
-- by its random nonce until it is answered once (DELETE … RETURNING) or
-- expires; binding is the SHA-256 of what it approves.
CREATE TABLE passkeys (
	id           bytea       NOT NULL PRIMARY KEY CHECK (octet_length(id) BETWEEN 1 AND 1023),
	owner_id     text        NOT NULL REFERENCES owners (id),
	public_key   bytea       NOT NULL,
	sign_count   bigint      NOT NULL DEFAULT 0,
	aaguid       bytea       NOT NULL,
	flags        integer     NOT NULL,
	transports   text        NOT NULL DEFAULT '',
	name         text        NOT NULL,
	created_at   timestamptz NOT NULL,
	last_used_at timestamptz
);
CREATE INDEX passkeys_owner ON passkeys (owner_id, created_at);
CREATE TABLE passkey_challenges (
	nonce      bytea       NOT NULL PRIMARY KEY CHECK (octet_length(nonce) = 32),
	owner_id   text        NOT NULL DEFAULT '',
	purpose    text        NOT NULL,
	binding    bytea       NOT NULL CHECK (octet_length(binding) = 32),
	expires_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL
);
CREATE INDEX passkey_challenges_expiry ON passkey_challenges (expires_at);
