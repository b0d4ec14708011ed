-- Per-day, per-agent sums that the analytics service keeps up to date from archive events, so a KPI
-- query over any date range reads (days x agents) rows, never the archive itself. Sums and counts
-- rather than averages, so a day's row can be added to and ranges can be combined exactly.
-- agent_id has no foreign key: a deleted agent's history still counts towards its supervisor.
create table public.agent_daily_kpis (
  day date not null,
  agent_id uuid not null,
  supervisor_id uuid not null references public.supervisors (id) on delete cascade,
  agent_name text not null,
  calls integer not null default 0 check (calls >= 0),
  handle_seconds_sum numeric(14, 1) not null default 0,
  csat_sum numeric(12, 2) not null default 0,
  csat_count integer not null default 0,
  fcr_count integer not null default 0 check (fcr_count >= 0),
  resolved_count integer not null default 0,
  sentiment_negative integer not null default 0,
  sentiment_neutral integer not null default 0,
  sentiment_positive integer not null default 0,
  tool_requests integer not null default 0,
  tools_denied integer not null default 0,
  updated_at timestamptz not null default now(),
  primary key (supervisor_id, day, agent_id)
);
create index agent_daily_kpis_day_idx on public.agent_daily_kpis (day);
create index agent_daily_kpis_agent_day_idx on public.agent_daily_kpis (agent_id, day);

-- The policies wrap auth.uid() and is_admin() in a sub-select so PostgreSQL evaluates them once per
-- query, not once per row (Supabase's advice for RLS performance): KPI queries read thousands of rows.
alter table public.agent_daily_kpis enable row level security;
create policy agent_daily_kpis_supervisor_own on public.agent_daily_kpis for select to authenticated
  using (supervisor_id = (select auth.uid()));
create policy agent_daily_kpis_admin_all on public.agent_daily_kpis for select to authenticated
  using ((select public.is_admin()));
-- Only the analytics service writes it.
revoke insert, update, delete on public.agent_daily_kpis from authenticated;
grant select on public.agent_daily_kpis to authenticated;

-- The live counters read only the calls still queued or active; this keeps that cheap when millions
-- of calls have ended.
create index calls_live_idx on public.calls (supervisor_id, status, queued_at) where status <> 'ended';

-- The same once-per-query evaluation for the supervisor-owned tables of 0002: searching a million
-- archived calls as an admin must not call is_admin() a million times.
do $$
declare
  t text;
begin
  foreach t in array array['agents', 'agent_tools', 'knowledge_entries', 'calls', 'transcript_lines',
                           'tool_requests', 'archives', 'notifications'] loop
    execute format('alter policy %I on public.%I using (supervisor_id = (select auth.uid()))
                      with check (supervisor_id = (select auth.uid()))', t || '_supervisor_own', t);
    execute format('alter policy %I on public.%I using ((select public.is_admin()))
                      with check ((select public.is_admin()))', t || '_admin_all', t);
  end loop;
end
$$;
