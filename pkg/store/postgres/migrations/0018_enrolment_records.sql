-- How each credential came to be (issue 18, enrolment channels): the
-- channel, the staff member (none online or by the provider's operator),
-- the province and ward, the identity evidence checked (its kind and
-- reference: never the document's image) and the citizen's consent, with
-- its time. Written in the enrolment's one write; the campaign's reports
-- count them by channel and area.
CREATE TABLE enrolment_records (
	credential_id text NOT NULL PRIMARY KEY REFERENCES credentials (id),
	channel       text NOT NULL CHECK (channel IN ('desk', 'event', 'household', 'online', 'operator')),
	staff_id      text NOT NULL,
	province      text NOT NULL,
	ward          text NOT NULL,
	evidence_kind text NOT NULL,
	evidence_ref  text NOT NULL,
	consent_at    timestamptz NOT NULL,
	created_at    timestamptz NOT NULL
);
CREATE INDEX enrolment_records_area ON enrolment_records (province, ward, created_at);
CREATE INDEX enrolment_records_channel ON enrolment_records (channel, created_at);
