-- Renewal (issue 18). A renewed certificate names the certificate it
-- renews (same issuer): the campaign rule passes the holder on to it
-- instead of refusing a second campaign certificate, and its free period
-- goes on from the first certificate's (campaign_from).
ALTER TABLE certificates ADD COLUMN renews BLOB;
ALTER TABLE certificates ADD COLUMN campaign_from INTEGER;
-- The expiry sweep finds good certificates by their end.
CREATE INDEX certificates_expiring ON certificates (not_after) WHERE status = 'good';

-- One row per renewal of a credential's certificate: requested by an
-- operator (the owner approves it in the app), issuing (claimed by the
-- owner's approval until claimed_until: two approvals at once make one
-- certificate), done (new_serial, free or metered by the provider's
-- policy, when).
CREATE TABLE renewals (
	credential_id TEXT    NOT NULL REFERENCES credentials (id),
	from_serial   BLOB    NOT NULL,
	owner_id      TEXT    NOT NULL,
	status        TEXT    NOT NULL CHECK (status IN ('requested', 'issuing', 'done')),
	requested_by  TEXT    NOT NULL,
	requested_at  INTEGER NOT NULL,
	claimed_until INTEGER,
	new_serial    BLOB,
	metered       INTEGER NOT NULL CHECK (metered IN (0, 1)),
	done_at       INTEGER,
	PRIMARY KEY (credential_id, from_serial)
);
CREATE INDEX renewals_done ON renewals (done_at) WHERE status = 'done';

-- Expiry notices sent (30 and 7 days before a certificate's end): the
-- primary key makes each notice once, whichever replica sweeps first.
CREATE TABLE expiry_notices (
	credential_id TEXT    NOT NULL,
	serial        BLOB    NOT NULL,
	days          INTEGER NOT NULL CHECK (days IN (7, 30)),
	sent_at       INTEGER NOT NULL,
	PRIMARY KEY (credential_id, serial, days)
);
