-- The audit log as one hash chain (issue 16, docs/DESIGN.md "The audit
-- chain"): each event stores the hash of the one before it and its own
-- (store.AuditHash), and AppendAudit gives it the ID after the last
-- event's, so IDs run without gaps and a missing ID is a deleted event.
-- Events written before this migration keep NULL hashes: a verifier
-- recomputes theirs, and the first checkpoint, written when kysod next
-- starts, seals them.
ALTER TABLE audit_events ADD COLUMN prev_hash BLOB;
ALTER TABLE audit_events ADD COLUMN hash BLOB;
-- A checkpoint: the audit key's signature over the chain's head at seq
-- (the last event's ID), written at kysod's start, every
-- audit.checkpoint_interval and at shutdown.
CREATE TABLE audit_checkpoints (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	seq        INTEGER NOT NULL,
	hash       BLOB,
	time       INTEGER NOT NULL,
	key_label  TEXT    NOT NULL,
	public_key BLOB    NOT NULL,
	signature  BLOB    NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'audit_checkpoints is append-only');
END;
