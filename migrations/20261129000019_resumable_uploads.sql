-- Resumable uploads: a citizen's app on a bad network sends a document in parts and, after a
-- dropped connection, asks how much arrived and goes on from there. The parts are kept in the
-- database (so any node can take the next one, and a restart loses nothing acknowledged),
-- sealed like the documents; when the last part arrives the whole file is checked, stored in
-- the blob store and recorded as the field's document, and the parts are deleted. An upload
-- left unfinished expires (the hourly sweep deletes it).
CREATE TABLE upload_sessions (
    id UUID PRIMARY KEY,
    application_id UUID NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    field_key TEXT NOT NULL,
    name_sealed BYTEA NOT NULL,
    size_bytes BIGINT NOT NULL,
    -- Bytes acknowledged so far: the offset the next part must start at.
    received BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    -- While one request finishes the upload (checks, stores and records the whole file), no
    -- other may: it holds it until this moment.
    finishing_until TEXT
);
CREATE INDEX upload_sessions_of ON upload_sessions (account_id);
CREATE INDEX upload_sessions_expiry ON upload_sessions (expires_at);

CREATE TABLE upload_parts (
    id UUID PRIMARY KEY,
    upload_id UUID NOT NULL REFERENCES upload_sessions (id) ON DELETE CASCADE,
    -- The part's first byte in the file.
    position BIGINT NOT NULL,
    part_sealed BYTEA NOT NULL,
    UNIQUE (upload_id, position)
);
