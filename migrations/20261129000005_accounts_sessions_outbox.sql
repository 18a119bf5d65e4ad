-- Citizens' accounts, sign-in codes, sessions, and the outbox of messages.
-- Personal data is stored sealed (privacy::DataKeys) with a keyed hash for lookups; nothing here
-- holds an e-mail address, a phone number or a code in clear. Times are RFC 3339 UTC text.

CREATE TABLE accounts (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('citizen')),
    identifier_kind TEXT NOT NULL CHECK (identifier_kind IN ('email', 'phone')),
    identifier_hash BYTEA NOT NULL UNIQUE,
    identifier_sealed BYTEA NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE login_codes (
    id UUID PRIMARY KEY,
    identifier_kind TEXT NOT NULL,
    identifier_hash BYTEA NOT NULL,
    identifier_sealed BYTEA NOT NULL,
    code_hash BYTEA NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX login_codes_identifier ON login_codes (identifier_hash, created_at);

CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE outbox (
    id UUID PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient_sealed BYTEA NOT NULL,
    subject TEXT NOT NULL,
    body_sealed BYTEA NOT NULL,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, created_at);
