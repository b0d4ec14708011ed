-- A customer's message is on the transcript once, whichever instance of the agent-worker read it: a
-- new owner of the call (the last one died between storing the line and acknowledging the message)
-- finds the line by the message's event id and does not store or answer it again.
alter table public.transcript_lines add column source_event_id uuid;
