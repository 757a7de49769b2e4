-- Revocations by CRL shard (issue 19). A revocation records its
-- certificate's CRL shard (certificates.crl_shard, fixed at issuance, so
-- never out of date), and a shard's CRL reads its own revocations on
-- revocations_shard instead of every revocation of the issuer, each joined
-- to its certificate: regenerating all N shards costs R rows read, not
-- N × R.
ALTER TABLE revocations ADD COLUMN shard integer NOT NULL DEFAULT 0 CHECK (shard >= 0);
UPDATE revocations r SET shard = c.crl_shard FROM certificates c
	WHERE c.issuer = r.issuer AND c.serial = r.serial AND c.crl_shard <> 0;
CREATE INDEX revocations_shard ON revocations (issuer, shard);
