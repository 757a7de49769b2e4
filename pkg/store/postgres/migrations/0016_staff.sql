-- Staff (issue 18): the provider's registration officers and field staff,
-- whose badges citizens check at /app/badge. photo is a small JPEG or PNG
-- (its type in photo_type); wards are the ward codes the person may work
-- in, comma-separated (empty: any); authorised_from/until bound the
-- authorisation; revoked_at, once set, ends it at once and is never unset.
CREATE TABLE staff (
	id               text        NOT NULL PRIMARY KEY,
	full_name        text        NOT NULL,
	birth_year       integer     NOT NULL,
	position         text        NOT NULL,
	provider         text        NOT NULL,
	wards            text        NOT NULL DEFAULT '',
	photo            bytea       NOT NULL CHECK (octet_length(photo) BETWEEN 1 AND 204800),
	photo_type       text        NOT NULL,
	authorised_from  timestamptz NOT NULL,
	authorised_until timestamptz NOT NULL,
	revoked_at       timestamptz,
	created_at       timestamptz NOT NULL
);
CREATE INDEX staff_created ON staff (created_at, id);
