-- Applications (permohonan): a service's form as its UPP admin defines it, each citizen's
-- application with its state (see domain::application), and the history of its steps. Answers
-- and notes to the citizen are personal data: sealed (storage::sealed lists them).

CREATE TABLE application_forms (
    service_id UUID PRIMARY KEY REFERENCES services (id),
    -- domain::form::FormDef as JSON.
    definition TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE applications (
    id UUID PRIMARY KEY,
    -- What the citizen and the public tracking page know it by.
    tracking_code TEXT NOT NULL UNIQUE,
    service_id UUID NOT NULL REFERENCES services (id),
    tenant_id UUID NOT NULL REFERENCES tenants (id),
    mpp_id UUID NOT NULL REFERENCES mpps (id),
    -- The citizen; kept as a record without them if they delete their account (the public
    -- record of the decision stays; their answers stay sealed).
    account_id UUID REFERENCES accounts (id) ON DELETE SET NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'in_review', 'needs_revision',
        'approved', 'ready', 'collected', 'rejected', 'withdrawn')),
    answers_sealed BYTEA NOT NULL,
    form_version INTEGER NOT NULL,
    assignee_id UUID REFERENCES accounts (id),
    -- The Standar Pelayanan's time limit in working days when the application was made.
    limit_days INTEGER,
    -- The MPP's local date the limit ends (absent while a draft).
    due_on TEXT,
    idempotency_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (account_id, idempotency_key)
);
CREATE INDEX applications_inbox ON applications (tenant_id, state, due_on);
CREATE INDEX applications_of ON applications (account_id, created_at);

CREATE TABLE application_events (
    id UUID PRIMARY KEY,
    application_id UUID NOT NULL REFERENCES applications (id),
    at TEXT NOT NULL,
    -- The MPP's local date, which the time limit counts in.
    day TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    actor TEXT NOT NULL,
    note_sealed BYTEA
);
CREATE INDEX application_events_of ON application_events (application_id, at);
