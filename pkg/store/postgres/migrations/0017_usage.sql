-- A portal client's category: public-service signing is free during the
-- citizen's free period, commercial signing is metered. Clients registered
-- before categories existed were the campaign's e-government portals, so
-- they keep public-service; new clients default to commercial in Go.
ALTER TABLE clients ADD COLUMN category text NOT NULL DEFAULT 'public-service'
	CHECK (category IN ('public-service', 'commercial'));

-- Signatures counted per UTC day, owner, client, category and free or
-- metered, updated in the same write as each signature's audit event.
CREATE TABLE usage_counts (
	day        text    NOT NULL,
	owner_id   text    NOT NULL,
	client_id  text    NOT NULL,
	category   text    NOT NULL CHECK (category IN ('public-service', 'commercial')),
	free       integer NOT NULL CHECK (free IN (0, 1)),
	signatures bigint  NOT NULL CHECK (signatures > 0),
	PRIMARY KEY (day, owner_id, client_id, category, free)
);
CREATE INDEX usage_counts_owner ON usage_counts (owner_id, day);
CREATE INDEX usage_counts_client ON usage_counts (client_id, day);
