-- Remote signing (store.Signing): relying parties, owners and their
-- credentials, signing transactions, activation data, access tokens and
-- the webhook outbox. Times are INTEGER microseconds since the Unix epoch,
-- UTC; NULL where the Go field is the zero time. Optional byte fields are
-- NULL when empty. Every rule two writers could race is a constraint or a
-- conditional UPDATE run inside BEGIN IMMEDIATE.

CREATE TABLE clients (
	id             TEXT    NOT NULL PRIMARY KEY,
	name           TEXT    NOT NULL,
	secret_hash    TEXT    NOT NULL,
	webhook_url    TEXT    NOT NULL,
	webhook_secret BLOB,
	disabled       INTEGER NOT NULL CHECK (disabled IN (0, 1)),
	created_at     INTEGER NOT NULL
);

CREATE TABLE owners (
	id             TEXT    NOT NULL PRIMARY KEY,
	national_id    TEXT    NOT NULL UNIQUE,
	name           TEXT    NOT NULL,
	province       TEXT    NOT NULL,
	phone          TEXT    NOT NULL,
	email          TEXT    NOT NULL,
	pin_hash       TEXT    NOT NULL,
	pin_failures   INTEGER NOT NULL CHECK (pin_failures >= 0),
	locked_until   INTEGER,
	totp_secret    BLOB,
	totp_last_step INTEGER NOT NULL CHECK (totp_last_step >= 0),
	created_at     INTEGER NOT NULL
);

-- UNIQUE (owner_id, id) is the index ListCredentials searches and the key
-- transactions refer to, so that a transaction's owner is its credential's.
CREATE TABLE credentials (
	id          TEXT    NOT NULL PRIMARY KEY,
	owner_id    TEXT    NOT NULL REFERENCES owners (id),
	key_uri     TEXT    NOT NULL,
	wrapped_key BLOB,
	algorithm   TEXT    NOT NULL,
	cert_issuer TEXT    NOT NULL,
	cert_serial BLOB,
	status      TEXT    NOT NULL CHECK (status IN ('active', 'disabled')),
	created_at  INTEGER NOT NULL,
	UNIQUE (owner_id, id)
);

-- UNIQUE (client_id, client_ref) makes submission idempotent: INSERT ...
-- ON CONFLICT DO NOTHING, then read the row that won.
CREATE TABLE transactions (
	id            TEXT    NOT NULL PRIMARY KEY,
	client_id     TEXT    NOT NULL REFERENCES clients (id),
	client_ref    TEXT    NOT NULL,
	credential_id TEXT    NOT NULL,
	owner_id      TEXT    NOT NULL,
	description   TEXT    NOT NULL,
	documents     BLOB    NOT NULL,
	status        TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'signed', 'rejected', 'expired', 'failed')),
	result        BLOB,
	error         TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	UNIQUE (client_id, client_ref),
	FOREIGN KEY (owner_id, credential_id) REFERENCES credentials (owner_id, id)
);
-- ListTransactions is newest first under any filter: each index ends in
-- created_at (and, implicitly, rowid), so a page is read in order without
-- sorting all of a client's or an owner's transactions.
CREATE INDEX transactions_owner_status ON transactions (owner_id, status, created_at);
CREATE INDEX transactions_client_status ON transactions (client_id, status, created_at);
CREATE INDEX transactions_owner ON transactions (owner_id, created_at);
CREATE INDEX transactions_client ON transactions (client_id, created_at);
CREATE INDEX transactions_status ON transactions (status, created_at);
CREATE INDEX transactions_created ON transactions (created_at);

-- hashes is a JSON array of the approved hashes, base64, in order.
-- remaining never goes below zero: UseActivation is one UPDATE ... WHERE
-- remaining >= n.
CREATE TABLE activations (
	sad_hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(sad_hash) = 32),
	credential_id  TEXT    NOT NULL REFERENCES credentials (id),
	transaction_id TEXT    REFERENCES transactions (id),
	hash_algorithm TEXT    NOT NULL,
	hashes         TEXT    NOT NULL,
	remaining      INTEGER NOT NULL CHECK (remaining >= 0),
	expires_at     INTEGER NOT NULL,
	created_at     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE tokens (
	hash       BLOB    NOT NULL PRIMARY KEY,
	kind       TEXT    NOT NULL CHECK (kind IN ('client', 'owner')),
	subject    TEXT    NOT NULL,
	scope      TEXT    NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The outbox. next_attempt is when a delivery is due, or its lease ends
-- while a replica sends it; NULL once delivered or given up. webhooks_due
-- holds only undelivered rows, the ones ClaimWebhooks searches, in the
-- order it takes them (next_attempt, then the rowid id), so a claim reads
-- its limit and stops however long the backlog.
CREATE TABLE webhooks (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	client_id    TEXT    NOT NULL REFERENCES clients (id),
	url          TEXT    NOT NULL,
	body         BLOB    NOT NULL,
	attempts     INTEGER NOT NULL CHECK (attempts >= 0),
	next_attempt INTEGER,
	delivered_at INTEGER,
	last_error   TEXT    NOT NULL
);
CREATE INDEX webhooks_due ON webhooks (next_attempt) WHERE delivered_at IS NULL;
