-- Documents of applications: what a citizen uploads for a form's document field, and the
-- output an officer attaches. The bytes are sealed and stored content-addressed (by the SHA-256
-- of the plain bytes) in the blob store (src/documents.rs); this table says which application
-- and field each belongs to, so a download is authorised per document. The original file name
-- is personal data: sealed.

CREATE TABLE documents (
    id UUID PRIMARY KEY,
    application_id UUID NOT NULL REFERENCES applications (id),
    -- The form's document field, or 'output' for the officer's result.
    field_key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('input', 'output')),
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size_bytes BIGINT NOT NULL,
    name_sealed BYTEA NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    -- Set when a newer upload to the same field takes its place (kept for the history).
    replaced_at TEXT
);
CREATE INDEX documents_of ON documents (application_id, field_key);
CREATE INDEX documents_blob ON documents (sha256);
-- At most one current document per field of an application.
CREATE UNIQUE INDEX documents_current ON documents (application_id, field_key) WHERE replaced_at IS NULL;
