-- A relying party may authenticate with a TLS client certificate instead
-- of its secret (RFC 8705): the certificate's SHA-256, unique.
ALTER TABLE clients ADD COLUMN cert_sha256 BLOB;
CREATE UNIQUE INDEX clients_cert ON clients (cert_sha256) WHERE cert_sha256 IS NOT NULL;
