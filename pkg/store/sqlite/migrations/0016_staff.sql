-- Staff (issue 18): the provider's registration officers and field staff,
-- whose badges citizens check at /app/badge. photo is a small JPEG or PNG
-- (its type in photo_type); wards are the ward codes the person may work
-- in, comma-separated (empty: any); authorised_from/until bound the
-- authorisation; revoked_at, once set, ends it at once and is never unset.
CREATE TABLE staff (
	id               TEXT    NOT NULL PRIMARY KEY,
	full_name        TEXT    NOT NULL,
	birth_year       INTEGER NOT NULL,
	position         TEXT    NOT NULL,
	provider         TEXT    NOT NULL,
	wards            TEXT    NOT NULL DEFAULT '',
	photo            BLOB    NOT NULL CHECK (length(photo) BETWEEN 1 AND 204800),
	photo_type       TEXT    NOT NULL,
	authorised_from  INTEGER NOT NULL,
	authorised_until INTEGER NOT NULL,
	revoked_at       INTEGER,
	created_at       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX staff_created ON staff (created_at, id);
