-- Consent receipts (issue 15): each owner approval — a transaction's, an
-- oauth2code consent's — is recorded with the receipt pkg/signing signs
-- (cms: a DER CMS SignedData carrying the receipt's JSON), in the same
-- write. transaction_id is NULL for an oauth2code consent; a transaction
-- is approved once, so it has at most one. activation_id names the
-- activation data the approval yields, and activations.receipt_id names
-- the receipt back, so the signatures made under it carry it in their
-- audit events ('' for an explicit CSC authorisation and older rows).
CREATE TABLE receipts (
	id             text        NOT NULL PRIMARY KEY,
	owner_id       text        NOT NULL REFERENCES owners (id),
	client_id      text        NOT NULL REFERENCES clients (id),
	transaction_id text        REFERENCES transactions (id),
	activation_id  text        NOT NULL,
	cms            bytea       NOT NULL,
	created_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX receipts_transaction ON receipts (transaction_id) WHERE transaction_id IS NOT NULL;
ALTER TABLE activations ADD COLUMN receipt_id text NOT NULL DEFAULT '';
