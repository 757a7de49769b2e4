-- The trace of the request that queued a webhook (a W3C traceparent,
-- empty when it was not traced), so its delivery's span links to it.
ALTER TABLE webhooks ADD COLUMN trace TEXT NOT NULL DEFAULT '';
