-- Delivery of the outbox through real channels (SMTP, an SMS gateway): a message is claimed by
-- one worker at a time, retried with growing waits, and given up after a number of attempts.
ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
ALTER TABLE outbox ADD COLUMN failed_at TEXT;
