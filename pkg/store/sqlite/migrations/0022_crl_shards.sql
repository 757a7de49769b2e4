-- Partitioned CRLs (issue 19; RFC 5280 section 5.2.5). A certificate
-- records the CRL shard whose distribution point it names, fixed at
-- issuance so that changing the number of shards never moves it; 0 is the
-- issuer's original CRL (every certificate before sharding, and all of
-- them while there is one shard). Each stored CRL records its shard;
-- CRL numbers stay one sequence per issuer. crl_shards lists the shards
-- above 0 that certificates were issued into, so the CRLs to make are
-- known without scanning certificates.
ALTER TABLE certificates ADD COLUMN crl_shard INTEGER NOT NULL DEFAULT 0 CHECK (crl_shard >= 0);
ALTER TABLE crls ADD COLUMN shard INTEGER NOT NULL DEFAULT 0 CHECK (shard >= 0);
CREATE INDEX crls_shard ON crls (issuer, shard, number);
CREATE TABLE crl_shards (
	issuer TEXT    NOT NULL,
	shard  INTEGER NOT NULL CHECK (shard > 0),
	PRIMARY KEY (issuer, shard)
) WITHOUT ROWID;
