-- The queue: counters (loket) of a tenant serving some of its services, tickets numbered per
-- tenant per day, and the events a display board replays (numbered per MPP, so a board that
-- reconnects asks for what came after the last one it announced).

ALTER TABLE tenants ADD COLUMN ticket_prefix TEXT;

CREATE TABLE counters (
    id UUID PRIMARY KEY,
    mpp_id UUID NOT NULL REFERENCES mpps (id),
    tenant_id UUID NOT NULL REFERENCES tenants (id),
    -- The number people read above the counter ("Loket 3"); unique in its MPP.
    number INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('closed', 'open', 'paused')),
    updated_at TEXT NOT NULL,
    UNIQUE (mpp_id, number)
);

CREATE TABLE counter_services (
    counter_id UUID NOT NULL REFERENCES counters (id) ON DELETE CASCADE,
    service_id UUID NOT NULL REFERENCES services (id),
    PRIMARY KEY (counter_id, service_id)
);

CREATE TABLE ticket_sequences (
    tenant_id UUID NOT NULL REFERENCES tenants (id),
    day TEXT NOT NULL,
    last_number INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, day)
);

CREATE TABLE tickets (
    id UUID PRIMARY KEY,
    mpp_id UUID NOT NULL REFERENCES mpps (id),
    tenant_id UUID NOT NULL REFERENCES tenants (id),
    service_id UUID NOT NULL REFERENCES services (id),
    day TEXT NOT NULL,
    number INTEGER NOT NULL,
    code TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('walk_in', 'booking')),
    priority BOOLEAN NOT NULL DEFAULT FALSE,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'called', 'serving', 'done', 'no_show', 'cancelled')),
    -- Under the fairness rule (domain::queue): when the ticket is due to be called.
    due_at TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    called_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    -- The counter that called it (or, while waiting after a transfer, the one it was sent to).
    counter_id UUID REFERENCES counters (id),
    recalls INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, day, number)
);
CREATE INDEX tickets_waiting ON tickets (tenant_id, day, state);

CREATE TABLE board_heads (
    mpp_id UUID PRIMARY KEY REFERENCES mpps (id),
    seq BIGINT NOT NULL
);

CREATE TABLE board_events (
    mpp_id UUID NOT NULL REFERENCES mpps (id),
    seq BIGINT NOT NULL,
    at TEXT NOT NULL,
    ticket_id UUID NOT NULL REFERENCES tickets (id),
    action TEXT NOT NULL,
    code TEXT NOT NULL,
    counter_number INTEGER,
    announcement TEXT NOT NULL,
    PRIMARY KEY (mpp_id, seq)
);
