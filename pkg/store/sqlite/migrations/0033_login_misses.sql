-- Logins naming no owner, counted like an owner's failed attempts so that
-- the login answers an unknown national ID as it answers a known one with
-- wrong factors: the same writes, and the same lock after the same number
-- of tries. Keyed by an HMAC of the national ID tried (never the ID);
-- rows whose last miss is old and whose lock has ended are pruned.
CREATE TABLE login_misses (
	key          BLOB PRIMARY KEY,
	failures     INTEGER NOT NULL CHECK (failures >= 0),
	locked_until INTEGER,
	last_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_misses_last ON login_misses (last_at);
