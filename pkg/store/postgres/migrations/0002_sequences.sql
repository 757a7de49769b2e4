-- Named counters that replicas sharing the database draw from: RFC 3161
-- time-stamp serial numbers, and whatever else must be unique and
-- increasing across processes.
CREATE TABLE sequences (
	name text   NOT NULL PRIMARY KEY,
	last bigint NOT NULL
);
