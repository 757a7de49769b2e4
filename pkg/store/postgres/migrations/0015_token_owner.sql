-- A relying party's token from an owner's CSC oauth2code consent with
-- scope service acts for that owner (CSC API v2 section 8.3.2: a
-- user-specific service authorization): credentials/list without userID
-- lists that owner's credentials. NULL for every other token.
ALTER TABLE tokens ADD COLUMN owner_id text;
