-- Activation data belongs to the relying party it was handed to, beside
-- the credential, hashes and algorithm it is bound to: only that client
-- may spend it (issue 13). Rows from before have client_id '' and id '':
-- bound to no client, they cannot be spent over the API, and they expire
-- within minutes. id names the activation in audit events.
ALTER TABLE activations ADD COLUMN id text NOT NULL DEFAULT '';
ALTER TABLE activations ADD COLUMN client_id text NOT NULL DEFAULT '';
-- An access token obtained by mutual TLS is bound to the certificate
-- (RFC 8705 section 3): the SHA-256 of its DER, NULL for a bearer token.
ALTER TABLE tokens ADD COLUMN cert_sha256 bytea CHECK (cert_sha256 IS NULL OR octet_length(cert_sha256) = 32);
