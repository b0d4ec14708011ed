-- Abandoned calls. The router ends a chat call whose customer it has not heard of (a live view open,
-- or a message) for its abandonment window; customer_seen_at is when it last did.
alter table public.calls add column customer_seen_at timestamptz;
-- When a queued caller whose wait passed the bound was offered to keep waiting or leave (once).
alter table public.calls add column long_wait_offered_at timestamptz;

-- Per day and agent, from every call that ended (not only the answered calls the archive holds): how
-- many ended, were answered, were abandoned before or after an answer, and how long answered callers
-- waited (sum and longest), for the abandonment rate and the average speed of answer.
alter table public.agent_daily_kpis
  add column ended_calls integer not null default 0,
  add column answered_calls integer not null default 0,
  add column abandoned_in_queue integer not null default 0,
  add column abandoned_in_call integer not null default 0,
  add column answer_wait_seconds_sum numeric(14, 1) not null default 0,
  add column answer_wait_seconds_max numeric(10, 1) not null default 0;

-- The live counters count today's abandoned calls every few seconds: only those rows, by end time.
create index calls_abandoned_idx on public.calls (ended_at)
  where end_reason in ('abandoned_in_queue', 'abandoned');
