-- A citizen's profile: full name and NIK, sealed; the NIK's keyed hash makes it unique.
ALTER TABLE accounts ADD COLUMN full_name_sealed BYTEA;
ALTER TABLE accounts ADD COLUMN nik_sealed BYTEA;
ALTER TABLE accounts ADD COLUMN nik_hash BYTEA;
CREATE UNIQUE INDEX accounts_nik ON accounts (nik_hash);
