-- Named counters that replicas sharing the database draw from: RFC 3161
-- time-stamp serial numbers, and whatever else must be unique and
-- increasing across processes.
CREATE TABLE sequences (
	name TEXT    NOT NULL PRIMARY KEY,
	last INTEGER NOT NULL
) WITHOUT ROWID;
