-- A client is a relying party (a portal) or a registration officer's
-- system, which may enrol citizens through the admin API.
ALTER TABLE clients ADD COLUMN role text NOT NULL DEFAULT 'relying-party' CHECK (role IN ('relying-party', 'officer'));
