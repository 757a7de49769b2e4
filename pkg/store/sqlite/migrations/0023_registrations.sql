-- Online self-registration (issue 18): a citizen's request, made in the
-- app, that waits for an officer to verify their identity. status moves
-- pending → approving (an officer's approval enrolling, until
-- lease_until: of two approvals at once one enrols) → approved (owner_id,
-- credential_id) → claimed (the citizen took their second factor with the
-- claim secret, whose SHA-256 is claim_hash); or pending → refused
-- (reason) or expired. pin_hash (Argon2id) lives only until the decision.
-- The partial unique index allows one open request per national ID.
CREATE TABLE registrations (
	id            TEXT    NOT NULL PRIMARY KEY,
	national_id   TEXT    NOT NULL,
	name          TEXT    NOT NULL,
	province      TEXT    NOT NULL,
	ward          TEXT    NOT NULL DEFAULT '',
	phone         TEXT    NOT NULL DEFAULT '',
	email         TEXT    NOT NULL DEFAULT '',
	pin_hash      TEXT    NOT NULL DEFAULT '',
	claim_hash    BLOB    NOT NULL CHECK (length(claim_hash) = 32),
	consent_text  TEXT    NOT NULL,
	consent_at    INTEGER NOT NULL,
	status        TEXT    NOT NULL CHECK (status IN ('pending', 'approving', 'approved', 'refused', 'expired', 'claimed')),
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	lease_until   INTEGER,
	decided_by    TEXT    NOT NULL DEFAULT '',
	decided_at    INTEGER,
	evidence_kind TEXT    NOT NULL DEFAULT '',
	evidence_ref  TEXT    NOT NULL DEFAULT '',
	reason        TEXT    NOT NULL DEFAULT '',
	owner_id      TEXT    NOT NULL DEFAULT '',
	credential_id TEXT    NOT NULL DEFAULT '',
	claimed_at    INTEGER
) WITHOUT ROWID;
CREATE UNIQUE INDEX registrations_open ON registrations (national_id) WHERE status IN ('pending', 'approving');
CREATE INDEX registrations_status ON registrations (status, created_at, id);

-- A household visit (issue 18): an officer's client may be bound to a
-- staff member (kyso client create --officer --staff ID); its enrolments
-- are that staff member's, channel household, checked against the staff
-- registry at each one. The citizen's second factor waits for them as an
-- approved registration with a claim secret of its own.
ALTER TABLE clients ADD COLUMN staff_id TEXT NOT NULL DEFAULT '';
