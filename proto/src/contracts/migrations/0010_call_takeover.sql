-- A supervisor (or an admin) can take a live call over from its agent and hand it back. Who holds it
-- now is on the call, so an agent-worker that restarts mid-take-over stays silent; how many times it
-- was taken over stays too, for the take-over rate.
alter table public.calls
  add column taken_over_by uuid references public.users (id) on delete set null,
  add column taken_over_at timestamptz,
  add column takeovers integer not null default 0 check (takeovers >= 0);

-- The supervisor's lines are on the transcript as theirs.
alter table public.transcript_lines drop constraint transcript_lines_speaker_check;
alter table public.transcript_lines add constraint transcript_lines_speaker_check
  check (speaker in ('customer', 'agent', 'supervisor', 'system'));

-- The agent asks for a person when the customer wants one.
alter table public.notifications drop constraint notifications_kind_check;
alter table public.notifications add constraint notifications_kind_check
  check (kind in ('tool_permission', 'call_ended', 'queue_building', 'whisper', 'human_requested', 'system'));

-- Archived calls a person took over, per agent and day: the take-over rate.
alter table public.agent_daily_kpis add column taken_over integer not null default 0 check (taken_over >= 0);
