-- Online booking: per service, slots with quotas, released a number of days ahead at a set
-- local time; one active booking per citizen per service per day; idempotent by a key the
-- booking form carries.

CREATE TABLE booking_rules (
    service_id UUID PRIMARY KEY REFERENCES services (id),
    slot_minutes INTEGER NOT NULL CHECK (slot_minutes BETWEEN 5 AND 240),
    quota_per_slot INTEGER NOT NULL CHECK (quota_per_slot BETWEEN 1 AND 1000),
    days_ahead INTEGER NOT NULL CHECK (days_ahead BETWEEN 1 AND 90),
    -- Local time (HH:MM) at which the day `days_ahead` ahead opens for booking.
    release_time TEXT NOT NULL,
    -- Cancel or reschedule until this many minutes before the slot.
    cancel_cutoff_minutes INTEGER NOT NULL DEFAULT 60,
    updated_at TEXT NOT NULL
);

CREATE TABLE booking_slots (
    id UUID PRIMARY KEY,
    service_id UUID NOT NULL REFERENCES services (id),
    day TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    quota INTEGER NOT NULL,
    booked INTEGER NOT NULL DEFAULT 0 CHECK (booked >= 0),
    UNIQUE (service_id, starts_at)
);
CREATE INDEX booking_slots_day ON booking_slots (service_id, day);

CREATE TABLE bookings (
    id UUID PRIMARY KEY,
    slot_id UUID NOT NULL REFERENCES booking_slots (id),
    service_id UUID NOT NULL REFERENCES services (id),
    day TEXT NOT NULL,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('booked', 'checked_in', 'cancelled', 'no_show')),
    idempotency_key TEXT NOT NULL,
    ticket_id UUID REFERENCES tickets (id),
    created_at TEXT NOT NULL,
    UNIQUE (account_id, idempotency_key)
);
CREATE UNIQUE INDEX bookings_one_active ON bookings (account_id, service_id, day)
    WHERE state IN ('booked', 'checked_in');
