-- The campaign registry (issue 18): one campaign signature per citizen,
-- across providers. A holding is a provider's hold of a national ID's
-- campaign signature; at most one per national ID is active (released_at
-- NULL). A switch releases the old holding (reason 'switch', released_to
-- the new provider, the whole months it was held) and the released
-- provider acknowledges it once it has revoked its certificate (acked_at).
-- Rows are kept: they are the registry's record.
CREATE TABLE campaign_holdings (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	national_id    TEXT    NOT NULL,
	provider_id    TEXT    NOT NULL,
	provider_name  TEXT    NOT NULL,
	serial         TEXT    NOT NULL DEFAULT '',
	since          INTEGER NOT NULL,
	released_at    INTEGER,
	release_reason TEXT    NOT NULL DEFAULT '',
	released_to    TEXT    NOT NULL DEFAULT '',
	months_used    INTEGER NOT NULL DEFAULT 0,
	evidence       TEXT    NOT NULL DEFAULT '',
	acked_at       INTEGER
);
CREATE UNIQUE INDEX campaign_holdings_active ON campaign_holdings (national_id) WHERE released_at IS NULL;
CREATE INDEX campaign_holdings_unacked ON campaign_holdings (provider_id, id) WHERE release_reason = 'switch' AND acked_at IS NULL;

-- The nonces of the shared registry's signed requests, per provider, kept
-- until the request's time leaves the accepted skew: a replay is refused.
CREATE TABLE registry_nonces (
	provider_id TEXT    NOT NULL,
	nonce       TEXT    NOT NULL,
	expires_at  INTEGER NOT NULL,
	PRIMARY KEY (provider_id, nonce)
) WITHOUT ROWID;
CREATE INDEX registry_nonces_expiry ON registry_nonces (expires_at);

-- A credential enrolled by a switch from another provider: its free period
-- is the provider's free months less the whole months used before. It
-- is written before the enrolment (no reference to credentials): a crash
-- between leaves a row no credential names, never a switched citizen with
-- a whole free year.
CREATE TABLE campaign_terms (
	credential_id TEXT    NOT NULL PRIMARY KEY,
	from_provider TEXT    NOT NULL,
	months_used   INTEGER NOT NULL CHECK (months_used >= 0),
	free_months   INTEGER NOT NULL CHECK (free_months >= 0),
	created_at    INTEGER NOT NULL
);
