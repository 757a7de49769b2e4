-- The trust store: CA certificates an operator trusts besides the
-- provider's own root (the NEAC national root, other public CAs), keyed
-- by the SHA-256 of the certificate.
CREATE TABLE trust_anchors (
	sha256   bytea       PRIMARY KEY CHECK (length(sha256) = 32),
	der      bytea       NOT NULL,
	subject  text        NOT NULL,
	source   text        NOT NULL,
	added_by text        NOT NULL,
	added    timestamptz NOT NULL
);
