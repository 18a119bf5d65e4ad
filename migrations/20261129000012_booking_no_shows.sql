-- The no-show sweep looks for bookings still `booked` whose slot has started; a partial index
-- keeps that cheap however many bookings have been kept or cancelled.
CREATE INDEX bookings_pending ON bookings (slot_id) WHERE state = 'booked';
