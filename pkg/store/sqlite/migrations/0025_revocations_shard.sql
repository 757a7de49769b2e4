-- Revocations by CRL shard (issue 19). A revocation records its
-- certificate's CRL shard (certificates.crl_shard, fixed at issuance, so
-- never out of date), and a shard's CRL reads its own revocations on
-- revocations_shard instead of every revocation of the issuer, each joined
-- to its certificate: regenerating all N shards costs R rows read, not
-- N × R. The index holds every column the CRL reads (the key's serial
-- with it), or SQLite, which plans without statistics, prefers the
-- primary key's (issuer) prefix.
ALTER TABLE revocations ADD COLUMN shard INTEGER NOT NULL DEFAULT 0 CHECK (shard >= 0);
UPDATE revocations SET shard = (SELECT c.crl_shard FROM certificates c
	WHERE c.issuer = revocations.issuer AND c.serial = revocations.serial);
CREATE INDEX revocations_shard ON revocations (issuer, shard, reason, revoked_at);
