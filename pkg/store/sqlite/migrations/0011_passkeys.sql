-- Passkeys (issue 15): an owner's WebAuthn credentials, and the
-- challenges the service issued for them. A credential ID is unique
-- across owners; public_key is the COSE_Key; sign_count the
-- authenticator's counter at the last use; flags the authenticator data
-- flags at registration; transports comma-separated. A challenge is kept
-- by its random nonce until it is answered once (DELETE … RETURNING) or
-- expires; binding is the SHA-256 of what it approves.
CREATE TABLE passkeys (
	id           BLOB    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 1023),
	owner_id     TEXT    NOT NULL REFERENCES owners (id),
	public_key   BLOB    NOT NULL,
	sign_count   INTEGER NOT NULL DEFAULT 0,
	aaguid       BLOB    NOT NULL,
	flags        INTEGER NOT NULL,
	transports   TEXT    NOT NULL DEFAULT '',
	name         TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX passkeys_owner ON passkeys (owner_id, created_at);
CREATE TABLE passkey_challenges (
	nonce      BLOB    NOT NULL PRIMARY KEY CHECK (length(nonce) = 32),
	owner_id   TEXT    NOT NULL DEFAULT '',
	purpose    TEXT    NOT NULL,
	binding    BLOB    NOT NULL CHECK (length(binding) = 32),
	expires_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX passkey_challenges_expiry ON passkey_challenges (expires_at);
