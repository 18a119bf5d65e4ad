-- Per-UPP queue rules of shared/RULES.md: one priority ticket after each `priority_every`
-- regular ones, and a ticket not answered after `max_recalls` recalls becomes a no-show. A UPP
-- without a row uses the defaults (1 and 3).
CREATE TABLE queue_settings (
    tenant_id UUID PRIMARY KEY REFERENCES tenants (id),
    priority_every INTEGER NOT NULL CHECK (priority_every BETWEEN 1 AND 20),
    max_recalls INTEGER NOT NULL CHECK (max_recalls BETWEEN 1 AND 10),
    updated_at TEXT NOT NULL
);
CREATE INDEX tickets_tenant_called ON tickets (tenant_id, day, called_at);
