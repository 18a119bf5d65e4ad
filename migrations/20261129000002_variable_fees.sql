-- A fee whose amount depends on the case (land area, vehicle class, building size).
ALTER TABLE services ADD COLUMN fee_variable BOOLEAN NOT NULL DEFAULT FALSE;
