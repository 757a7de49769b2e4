-- Remote signing (store.Signing): relying parties, owners and their
-- credentials, signing transactions, activation data, access tokens and
-- the webhook outbox. Times are timestamptz, NULL where the Go field is the
-- zero time; optional byte fields are NULL when empty. Every rule two
-- replicas could race is a constraint, a conditional UPDATE (which
-- re-checks its condition on the row as another transaction left it), or
-- FOR UPDATE SKIP LOCKED.

CREATE TABLE clients (
	id             text        NOT NULL PRIMARY KEY,
	name           text        NOT NULL,
	secret_hash    text        NOT NULL,
	webhook_url    text        NOT NULL,
	webhook_secret bytea,
	disabled       boolean     NOT NULL,
	created_at     timestamptz NOT NULL
);

CREATE TABLE owners (
	id             text        NOT NULL PRIMARY KEY,
	national_id    text        NOT NULL UNIQUE,
	name           text        NOT NULL,
	province       text        NOT NULL,
	phone          text        NOT NULL,
	email          text        NOT NULL,
	pin_hash       text        NOT NULL,
	pin_failures   integer     NOT NULL CHECK (pin_failures >= 0),
	locked_until   timestamptz,
	totp_secret    bytea,
	totp_last_step bigint      NOT NULL CHECK (totp_last_step >= 0),
	created_at     timestamptz NOT NULL
);

-- UNIQUE (owner_id, id) is the index ListCredentials searches and the key
-- transactions refer to, so that a transaction's owner is its credential's.
CREATE TABLE credentials (
	seq         bigint      GENERATED ALWAYS AS IDENTITY UNIQUE, -- insertion order
	id          text        NOT NULL PRIMARY KEY,
	owner_id    text        NOT NULL REFERENCES owners (id),
	key_uri     text        NOT NULL,
	wrapped_key bytea,
	algorithm   text        NOT NULL,
	cert_issuer text        NOT NULL,
	cert_serial bytea,
	status      text        NOT NULL CHECK (status IN ('active', 'disabled')),
	created_at  timestamptz NOT NULL,
	UNIQUE (owner_id, id)
);

-- UNIQUE (client_id, client_ref) makes submission idempotent: INSERT ...
-- ON CONFLICT DO NOTHING waits for a concurrent inserter of the same
-- reference and then does nothing; the row that won is read after.
CREATE TABLE transactions (
	seq           bigint      GENERATED ALWAYS AS IDENTITY UNIQUE, -- insertion order
	id            text        NOT NULL PRIMARY KEY,
	client_id     text        NOT NULL REFERENCES clients (id),
	client_ref    text        NOT NULL,
	credential_id text        NOT NULL,
	owner_id      text        NOT NULL,
	description   text        NOT NULL,
	documents     bytea       NOT NULL,
	status        text        NOT NULL CHECK (status IN ('pending', 'approved', 'signed', 'rejected', 'expired', 'failed')),
	result        bytea,
	error         text        NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL,
	UNIQUE (client_id, client_ref),
	FOREIGN KEY (owner_id, credential_id) REFERENCES credentials (owner_id, id)
);
-- ListTransactions is newest first under any filter: each index ends in
-- (created_at, seq), so a page is read in order without sorting all of a
-- client's or an owner's transactions.
CREATE INDEX transactions_owner_status ON transactions (owner_id, status, created_at, seq);
CREATE INDEX transactions_client_status ON transactions (client_id, status, created_at, seq);
CREATE INDEX transactions_owner ON transactions (owner_id, created_at, seq);
CREATE INDEX transactions_client ON transactions (client_id, created_at, seq);
CREATE INDEX transactions_status ON transactions (status, created_at, seq);
CREATE INDEX transactions_created ON transactions (created_at, seq);

-- hashes holds the approved hashes in order. remaining never goes below
-- zero: UseActivation is one UPDATE ... WHERE remaining >= n.
CREATE TABLE activations (
	sad_hash       bytea       NOT NULL PRIMARY KEY CHECK (octet_length(sad_hash) = 32),
	credential_id  text        NOT NULL REFERENCES credentials (id),
	transaction_id text        REFERENCES transactions (id),
	hash_algorithm text        NOT NULL,
	hashes         bytea[]     NOT NULL CHECK (cardinality(hashes) <= 1000),
	remaining      integer     NOT NULL CHECK (remaining >= 0),
	expires_at     timestamptz NOT NULL,
	created_at     timestamptz NOT NULL
);

CREATE TABLE tokens (
	hash       bytea       NOT NULL PRIMARY KEY,
	kind       text        NOT NULL CHECK (kind IN ('client', 'owner')),
	subject    text        NOT NULL,
	scope      text        NOT NULL,
	expires_at timestamptz NOT NULL
);

-- The outbox. next_attempt is when a delivery is due, or its lease ends
-- while a replica sends it; NULL once delivered or given up. webhooks_due
-- holds only undelivered rows, the ones ClaimWebhooks searches, in the
-- order it takes them, so a claim reads its limit and stops however long
-- the backlog.
CREATE TABLE webhooks (
	id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	client_id    text        NOT NULL REFERENCES clients (id),
	url          text        NOT NULL,
	body         bytea       NOT NULL,
	attempts     integer     NOT NULL CHECK (attempts >= 0),
	next_attempt timestamptz,
	delivered_at timestamptz,
	last_error   text        NOT NULL
);
CREATE INDEX webhooks_due ON webhooks (next_attempt, id) WHERE delivered_at IS NULL;
