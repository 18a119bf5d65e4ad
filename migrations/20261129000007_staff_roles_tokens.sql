-- Staff: credentials, scoped role grants, invitations and password resets, API tokens, and the
-- assurance level of each session. Every account is a person (accounts.kind stays 'citizen');
-- a staff role is a grant held by that person, so one person may hold several.

CREATE TABLE staff_credentials (
    account_id UUID PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    -- argon2id, PHC string form.
    password_hash TEXT NOT NULL,
    -- The TOTP secret, sealed; confirmed once the person entered a first code from it.
    totp_secret_sealed BYTEA,
    totp_confirmed_at TEXT,
    -- The last time step whose code was accepted: a code works once.
    totp_last_step BIGINT NOT NULL DEFAULT 0,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE role_grants (
    id UUID PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('officer', 'upp_admin', 'mpp_manager', 'regional_admin', 'national_admin', 'analyst')),
    region_code TEXT,
    mpp_id UUID REFERENCES mpps (id),
    tenant_id UUID REFERENCES tenants (id),
    granted_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX role_grants_account ON role_grants (account_id);

-- Links sent by e-mail: an invitation to a role, or a password reset. Only the token's hash is kept.
CREATE TABLE staff_links (
    id UUID PRIMARY KEY,
    purpose TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    token_hash BYTEA NOT NULL UNIQUE,
    identifier_hash BYTEA NOT NULL,
    identifier_sealed BYTEA NOT NULL,
    role TEXT,
    region_code TEXT,
    mpp_id UUID REFERENCES mpps (id),
    tenant_id UUID REFERENCES tenants (id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX staff_links_identifier ON staff_links (identifier_hash, created_at);

CREATE TABLE api_tokens (
    id UUID PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    -- Space-separated scopes, e.g. 'catalog:write'.
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

-- 'code': signed in with a one-time code (citizens); 'password': password checked, second
-- factor pending (grants nothing); 'totp': password and TOTP (staff).
ALTER TABLE sessions ADD COLUMN level TEXT NOT NULL DEFAULT 'code';
