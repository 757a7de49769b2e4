-- Leases of the upkeep one replica does for all sharing the database
-- (issue 19): the PKI's CRLs and the renewal of its service certificates.
-- A replica holds a lease until `until`, extending it at each tick; another
-- takes it only once it has ended. One row per kind of upkeep.
CREATE TABLE upkeep_leases (
	name   TEXT    NOT NULL PRIMARY KEY,
	holder TEXT    NOT NULL,
	until  INTEGER NOT NULL
) WITHOUT ROWID;
