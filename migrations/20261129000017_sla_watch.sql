-- The time-limit watch: the highest warning already sent for an application ('soon' when its
-- last working day nears, 'late' once past it), so each is sent once, whichever node sends it.
ALTER TABLE applications ADD COLUMN sla_flag TEXT CHECK (sla_flag IN ('soon', 'late'));
CREATE INDEX applications_watch ON applications (state, due_on);
