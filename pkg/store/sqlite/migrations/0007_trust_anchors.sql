-- The trust store: CA certificates an operator trusts besides the
-- provider's own root (the NEAC national root, other public CAs), keyed
-- by the SHA-256 of the certificate.
CREATE TABLE trust_anchors (
	sha256   BLOB    PRIMARY KEY CHECK (length(sha256) = 32),
	der      BLOB    NOT NULL,
	subject  TEXT    NOT NULL,
	source   TEXT    NOT NULL,
	added_by TEXT    NOT NULL,
	added    INTEGER NOT NULL
);
