-- Every version of a service's form, so that an application sent with version N is shown to
-- the officer, checked and fixed against version N after the UPP admin has changed the form.
-- application_forms keeps the current version (what a new draft is made with).
CREATE TABLE application_form_versions (
    service_id UUID NOT NULL REFERENCES services (id),
    version INTEGER NOT NULL,
    -- domain::form::FormDef as JSON.
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (service_id, version)
);
INSERT INTO application_form_versions (service_id, version, definition, created_at)
    SELECT service_id, version, definition, updated_at FROM application_forms;
