-- National days off (libur nasional, cuti bersama) as versioned data: effective_from is the day the
-- decree that set the day took effect (NULL: known from the start of its year's decree).
CREATE TABLE days_off (
    date DATE NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('libur_nasional', 'cuti_bersama')),
    name TEXT NOT NULL,
    effective_from DATE,
    PRIMARY KEY (date, kind)
);

-- An MPP's own closures (renovation, regional holidays).
CREATE TABLE mpp_closures (
    mpp_id UUID NOT NULL REFERENCES mpps (id) ON DELETE CASCADE,
    date DATE NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (mpp_id, date)
);

-- Banks and other private tenants work on cuti bersama.
ALTER TABLE tenants ADD COLUMN observes_cuti_bersama BOOLEAN NOT NULL DEFAULT TRUE;
