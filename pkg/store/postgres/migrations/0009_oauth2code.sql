-- CSC oauth2code (issue 15): a relying party's registered redirect URIs,
-- one per line ('' for none), compared exactly; and the authorisation
-- codes the owner's consent yields, kept by their SHA-256 until they are
-- exchanged once or expire. request is the approved request as
-- pkg/signing writes it (JSON): scope, owner, credential, hashes, the
-- redirect URI and the PKCE challenge.
ALTER TABLE clients ADD COLUMN redirect_uris text NOT NULL DEFAULT '';
CREATE TABLE oauth_codes (
	hash       bytea       NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
	client_id  text        NOT NULL REFERENCES clients (id),
	request    bytea       NOT NULL,
	expires_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL
);
