-- Citizens may add a password (argon2id) and sign in with it instead of a one-time code; the
-- code stays the way back in when the password is forgotten.
ALTER TABLE accounts ADD COLUMN password_hash TEXT;
ALTER TABLE accounts ADD COLUMN password_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN password_locked_until TEXT;
