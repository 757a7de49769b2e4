-- The audit log as one hash chain (issue 16, docs/DESIGN.md "The audit
-- chain"): each event stores the hash of the one before it and its own
-- (store.AuditHash). AppendAudit now gives each event the ID after the
-- last event's, under the audit advisory lock, so IDs run without gaps (an
-- identity burns numbers on rollback) and a missing ID is a deleted event.
-- Events written before this migration keep NULL hashes: a verifier
-- recomputes theirs, and the first checkpoint, written when kysod next
-- starts, seals them.
ALTER TABLE audit_events ALTER COLUMN id DROP IDENTITY;
ALTER TABLE audit_events ADD COLUMN prev_hash bytea;
ALTER TABLE audit_events ADD COLUMN hash bytea;
-- A checkpoint: the audit key's signature over the chain's head at seq
-- (the last event's ID), written at each replica's start, every
-- audit.checkpoint_interval and at shutdown.
CREATE TABLE audit_checkpoints (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	seq        bigint      NOT NULL,
	hash       bytea,
	time       timestamptz NOT NULL,
	key_label  text        NOT NULL,
	public_key bytea       NOT NULL,
	signature  bytea       NOT NULL
);
CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_checkpoints is append-only';
END;
$$;
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();
