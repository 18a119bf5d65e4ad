-- National registry and service catalog.
-- This file runs unchanged on SQLite and PostgreSQL: types are written so that both engines accept
-- them (SQLite stores UUID as a 16-byte BLOB, DATE as ISO text).

CREATE TABLE provinces (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE regencies (
    code TEXT PRIMARY KEY,
    province_code TEXT NOT NULL REFERENCES provinces (code),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('kabupaten', 'kota'))
);
CREATE INDEX regencies_province ON regencies (province_code);

CREATE TABLE districts (
    code TEXT PRIMARY KEY,
    regency_code TEXT NOT NULL REFERENCES regencies (code),
    name TEXT NOT NULL
);
CREATE INDEX districts_regency ON districts (regency_code);

CREATE TABLE agencies (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    short_name TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('pusat', 'daerah', 'bumn_bumd', 'lainnya'))
);

CREATE TABLE service_templates (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT
);

CREATE TABLE mpps (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    region_code TEXT NOT NULL REFERENCES regencies (code),
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    website TEXT,
    status TEXT NOT NULL CHECK (status IN ('planned', 'pilot', 'operating')),
    inaugurated_on DATE
);
CREATE INDEX mpps_region ON mpps (region_code);

CREATE TABLE mpp_opening_hours (
    mpp_id UUID NOT NULL REFERENCES mpps (id) ON DELETE CASCADE,
    weekday SMALLINT NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens TEXT NOT NULL,
    closes TEXT NOT NULL,
    PRIMARY KEY (mpp_id, weekday, opens)
);

CREATE TABLE tenants (
    id UUID PRIMARY KEY,
    mpp_id UUID NOT NULL REFERENCES mpps (id),
    agency_id UUID NOT NULL REFERENCES agencies (id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    location TEXT,
    description TEXT,
    UNIQUE (mpp_id, slug)
);
CREATE INDEX tenants_agency ON tenants (agency_id);

CREATE TABLE services (
    id UUID PRIMARY KEY,
    mpp_id UUID NOT NULL REFERENCES mpps (id),
    tenant_id UUID NOT NULL REFERENCES tenants (id),
    template_id UUID REFERENCES service_templates (id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    time_limit_value INTEGER NOT NULL CHECK (time_limit_value > 0),
    time_limit_unit TEXT NOT NULL CHECK (time_limit_unit IN ('minutes', 'hours', 'working_days')),
    fee_rupiah BIGINT NOT NULL CHECK (fee_rupiah >= 0),
    fee_legal_basis TEXT,
    product TEXT NOT NULL,
    complaint_channel TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    facilities TEXT,
    staff_competence TEXT,
    internal_supervision TEXT,
    staff_count TEXT,
    service_guarantee TEXT,
    security_guarantee TEXT,
    performance_evaluation TEXT,
    UNIQUE (tenant_id, slug)
);
CREATE INDEX services_mpp ON services (mpp_id);
CREATE INDEX services_template ON services (template_id);

CREATE TABLE service_requirements (
    service_id UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    note TEXT,
    PRIMARY KEY (service_id, position)
);

CREATE TABLE service_steps (
    service_id UUID NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (service_id, position)
);

-- Bumped in the same transaction as every catalog change; nodes reload their in-memory catalog
-- when it moves.
CREATE TABLE catalog_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO catalog_meta (id, version) VALUES (1, 0);
