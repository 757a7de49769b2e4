-- Pending transactions by expiry, for ListOverdue (the expiry sweep reaches
-- the longest overdue first however many are pending).
CREATE INDEX transactions_overdue ON transactions (expires_at) WHERE status = 'pending';
