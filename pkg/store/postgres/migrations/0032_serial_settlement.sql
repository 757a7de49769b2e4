-- The settlement of reservations no certificate followed (issue 19): a
-- serial is reserved (its issuance under way), certified (PutCertificate
-- recorded its certificate) or abandoned (the PKI's upkeep settled it,
-- long after, with a cert.issue event of outcome abandoned; settled_at is
-- when). PutCertificate and the settlement each change the row only while
-- it is reserved, so one of them wins and the other is refused: the
-- second to update the row waits for the first and finds it no longer
-- reserved.
--
-- The default is what every row before this migration that has its
-- certificate is (bulk loads write it too); the UPDATE below names the
-- rows in flight or left by a crash, and every reservation kyso makes
-- names its status. Adding a column with a constant default rewrites no
-- row, and the UPDATE touches only the few serials without a certificate.
ALTER TABLE serials ADD COLUMN status text NOT NULL DEFAULT 'certified'
	CHECK (status IN ('reserved', 'certified', 'abandoned'));
ALTER TABLE serials ADD COLUMN settled_at timestamptz;
UPDATE serials SET status = 'reserved'
	WHERE NOT EXISTS (SELECT 1 FROM certificates c WHERE c.issuer = serials.issuer AND c.serial = serials.serial);
-- The open reservations, oldest first: what the settlement reads. Only
-- the issuances under way (and those a crash left) are in it.
CREATE INDEX serials_reserved ON serials (reserved_at) WHERE status = 'reserved';
