-- Life-event bundles (paket layanan): an MPP manager composes services of several UPPs around
-- one event (a birth, a new business). A citizen's bundle application fans out into one
-- application per service, each in its own UPP's inbox, filled from one shared form.

CREATE TABLE bundles (
    id UUID PRIMARY KEY,
    mpp_id UUID NOT NULL REFERENCES mpps (id),
    slug TEXT NOT NULL,
    name_id TEXT NOT NULL,
    name_en TEXT NOT NULL,
    description_id TEXT NOT NULL,
    description_en TEXT NOT NULL,
    -- A withdrawn bundle takes no new applications; the ones made stay.
    active BOOLEAN NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (mpp_id, slug)
);

CREATE TABLE bundle_services (
    bundle_id UUID NOT NULL REFERENCES bundles (id),
    service_id UUID NOT NULL REFERENCES services (id),
    position INTEGER NOT NULL,
    PRIMARY KEY (bundle_id, service_id)
);

CREATE TABLE bundle_applications (
    id UUID PRIMARY KEY,
    bundle_id UUID NOT NULL REFERENCES bundles (id),
    account_id UUID REFERENCES accounts (id) ON DELETE SET NULL,
    idempotency_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (account_id, idempotency_key)
);
CREATE INDEX bundle_applications_of ON bundle_applications (account_id, created_at);

ALTER TABLE applications ADD COLUMN bundle_application_id UUID REFERENCES bundle_applications (id);
CREATE INDEX applications_of_bundle ON applications (bundle_application_id);
