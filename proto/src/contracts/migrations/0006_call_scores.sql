-- The live scores of each call as post-processing hears them, for the archive's sentiment timeline
-- and CSAT (the last satisfaction estimate). One row per call; internal to the services.
create table public.call_scores (
  call_id uuid primary key references public.calls (id) on delete cascade,
  sentiment_timeline jsonb not null default '[]',
  satisfaction numeric(3, 2) check (satisfaction between 1 and 5),
  satisfaction_reasons jsonb not null default '[]',
  updated_at timestamptz not null default now()
);
alter table public.call_scores enable row level security;
revoke all on public.call_scores from authenticated;
create index archives_caller_started_idx on public.archives (caller, started_at desc);
