-- The campaign's reports (issue 18; kyso bench report): a period without
-- an area is found by its time, not by reading every enrolment. (The
-- covering indexes PostgreSQL's 0024 adds for the report's join are not
-- made here: without statistics SQLite's planner keeps to the primary
-- keys, whose rows it reads anyway.)
CREATE INDEX enrolment_records_created ON enrolment_records (created_at);
