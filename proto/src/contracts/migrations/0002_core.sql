-- Core schema: people, agents and their configuration, calls, transcripts, tool requests,
-- archives, notifications, audit log. Row-level security follows the seed: a supervisor reads and
-- writes only their own rows, an admin everything.

create table public.users (
  id uuid primary key default gen_random_uuid(),
  email text not null check (email = lower(email) and position('@' in email) > 1),
  role text not null check (role in ('admin', 'supervisor')),
  full_name text not null default '',
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index users_email_key on public.users (email);

-- Password hashes for the embedded auth only; with Supabase Auth, passwords live in Supabase.
create table public.local_credentials (
  user_id uuid primary key references public.users (id) on delete cascade,
  password_hash text not null,
  updated_at timestamptz not null default now()
);

create table public.supervisors (
  id uuid primary key references public.users (id) on delete cascade,
  max_agents integer not null default 3 check (max_agents between 0 and 100),
  created_at timestamptz not null default now()
);

create table public.agents (
  id uuid primary key default gen_random_uuid(),
  supervisor_id uuid not null references public.supervisors (id) on delete cascade,
  name text not null check (length(name) between 1 and 100),
  phone_number text not null check (phone_number ~ '^\+?[0-9][0-9 -]{2,30}$'),
  instructions text not null default '',
  greeting text not null default '',
  voice text not null default 'Puck',
  tag_taxonomy text[] not null default '{}',
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index agents_phone_number_key on public.agents (phone_number);
create index agents_supervisor_idx on public.agents (supervisor_id);

create table public.agent_tools (
  id uuid primary key default gen_random_uuid(),
  agent_id uuid not null references public.agents (id) on delete cascade,
  supervisor_id uuid not null references public.supervisors (id) on delete cascade,
  name text not null check (name ~ '^[a-z][a-z0-9_]{0,63}$'),
  description text not null default '',
  requires_approval boolean not null default false,
  source text not null default 'builtin' check (source in ('builtin', 'mcp')),
  mcp_server_url text,
  config jsonb not null default '{}',
  unique (agent_id, name),
  check (source = 'builtin' or mcp_server_url is not null)
);

create table public.knowledge_entries (
  id uuid primary key default gen_random_uuid(),
  agent_id uuid not null references public.agents (id) on delete cascade,
  supervisor_id uuid not null references public.supervisors (id) on delete cascade,
  title text not null check (length(title) between 1 and 200),
  content text not null check (length(content) between 1 and 20000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index knowledge_entries_agent_idx on public.knowledge_entries (agent_id);

create table public.calls (
  id uuid primary key,
  supervisor_id uuid not null references public.supervisors (id) on delete cascade,
  -- A deleted agent's calls stay in the archive, with the name they had.
  agent_id uuid references public.agents (id) on delete set null,
  agent_name text not null,
  channel text not null check (channel in ('chat', 'voice')),
  caller text not null default 'anonymous',
  dialled_number text not null,
  status text not null check (status in ('queued', 'active', 'ended')),
  brain text,
  livekit_room text,
  queued_at timestamptz not null default now(),
  started_at timestamptz,
  ended_at timestamptz,
  end_reason text,
  ended_by text
);
create index calls_supervisor_status_idx on public.calls (supervisor_id, status);
create index calls_agent_status_idx on public.calls (agent_id, status);
create index calls_caller_idx on public.calls (caller, queued_at desc);

create table public.transcript_lines (
  call_id uuid not null references public.calls (id) on delete cascade,
  seq integer not null check (seq >= 0),
  supervisor_id uuid not null references public.supervisors (id) on delete cascade,
  speaker text not null check (speaker in ('customer', 'agent', 'system')),
  text text not null,
  brain text,
  occurred_at timestamptz not null,
  primary key (call_id, seq)
);

create table public.tool_requests (
  id uuid primary key,
  call_id uuid not null references public.calls (id) on delete cascade,
  supervisor_id uuid not null references public.supervisors (id) on delete cascade,
  agent_id uuid references public.agents (id) on delete set null,
  tool_name text not null,
  arguments jsonb not null default '{}',
  reason text not null default '',
  requires_approval boolean not null,
  status text not null check (status in ('pending', 'allowed', 'denied', 'timed_out', 'executed', 'failed')),
  requested_at timestamptz not null default now(),
  expires_at timestamptz,
  decided_at timestamptz,
  decided_by uuid references public.users (id) on delete set null,
  note text not null default '',
  result jsonb,
  error text
);
create index tool_requests_call_idx on public.tool_requests (call_id);
create index tool_requests_pending_idx on public.tool_requests (supervisor_id) where status = 'pending';

create table public.archives (
  call_id uuid primary key references public.calls (id) on delete cascade,
  supervisor_id uuid not null references public.supervisors (id) on delete cascade,
  agent_id uuid references public.agents (id) on delete set null,
  agent_name text not null,
  channel text not null check (channel in ('chat', 'voice')),
  caller text not null,
  started_at timestamptz not null,
  ended_at timestamptz not null,
  handle_seconds numeric(10, 1) not null check (handle_seconds >= 0),
  summary text not null,
  tags text[] not null default '{}',
  csat numeric(3, 2) check (csat between 1 and 5),
  fcr boolean not null,
  resolved boolean not null,
  sentiment_label text check (sentiment_label in ('negative', 'neutral', 'positive')),
  sentiment_avg numeric(4, 3) check (sentiment_avg between -1 and 1),
  sentiment_timeline jsonb not null default '[]',
  summary_source text not null,
  brain text,
  created_at timestamptz not null default now(),
  search tsvector generated always as (
    to_tsvector('english', summary || ' ' || agent_name || ' ' || caller)
  ) stored
);
create index archives_supervisor_started_idx on public.archives (supervisor_id, started_at desc);
create index archives_agent_started_idx on public.archives (agent_id, started_at desc);
create index archives_started_idx on public.archives (started_at desc);
create index archives_tags_idx on public.archives using gin (tags);
create index archives_search_idx on public.archives using gin (search);

create table public.notifications (
  id uuid primary key default gen_random_uuid(),
  supervisor_id uuid not null references public.supervisors (id) on delete cascade,
  call_id uuid references public.calls (id) on delete set null,
  kind text not null check (kind in ('tool_permission', 'call_ended', 'queue_building', 'whisper', 'system')),
  title text not null,
  body text not null default '',
  data jsonb not null default '{}',
  created_at timestamptz not null default now(),
  read_at timestamptz
);
create index notifications_supervisor_created_idx on public.notifications (supervisor_id, created_at desc);

create table public.audit_log (
  id bigint generated always as identity primary key,
  actor_id uuid,
  actor_role text not null,
  -- Whose data the action touched, so a supervisor can read the entries about their own team.
  supervisor_id uuid,
  action text not null,
  target_type text not null,
  target_id text,
  details jsonb not null default '{}',
  at timestamptz not null default now()
);
create index audit_log_at_idx on public.audit_log (at desc);

-- Exactly-once effects: a consumer claims an event id in the same transaction as its work.
create table public.processed_events (
  consumer text not null,
  event_id uuid not null,
  processed_at timestamptz not null default now(),
  primary key (consumer, event_id)
);

create function public.is_admin() returns boolean
  language sql stable security definer
  set search_path = public
  as $$
    select exists (select 1 from public.users where id = auth.uid() and role = 'admin' and active)
  $$;

-- Row-level security on every table. Services that own the data connect as the table owner;
-- the gateway acts as the signed-in user (role authenticated + JWT claims), as PostgREST does.
do $$
declare
  t text;
begin
  foreach t in array array['agents', 'agent_tools', 'knowledge_entries', 'calls', 'transcript_lines',
                           'tool_requests', 'archives', 'notifications'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('create policy %I on public.%I for all to authenticated
                      using (supervisor_id = auth.uid()) with check (supervisor_id = auth.uid())',
                   t || '_supervisor_own', t);
    execute format('create policy %I on public.%I for all to authenticated
                      using (public.is_admin()) with check (public.is_admin())', t || '_admin_all', t);
  end loop;
end
$$;

alter table public.users enable row level security;
create policy users_self_read on public.users for select to authenticated using (id = auth.uid());
create policy users_admin_all on public.users for all to authenticated
  using (public.is_admin()) with check (public.is_admin());

alter table public.supervisors enable row level security;
create policy supervisors_self_read on public.supervisors for select to authenticated using (id = auth.uid());
create policy supervisors_admin_all on public.supervisors for all to authenticated
  using (public.is_admin()) with check (public.is_admin());

alter table public.audit_log enable row level security;
create policy audit_log_own_read on public.audit_log for select to authenticated
  using (actor_id = auth.uid() or supervisor_id = auth.uid());
create policy audit_log_write_as_self on public.audit_log for insert to authenticated
  with check (actor_id = auth.uid());
create policy audit_log_admin_read on public.audit_log for select to authenticated using (public.is_admin());

-- Never readable through a user's session, on any database.
alter table public.local_credentials enable row level security;
alter table public.processed_events enable row level security;
alter table public.schema_migrations enable row level security;

grant usage on schema public to authenticated;
grant select, insert, update, delete on all tables in schema public to authenticated;
grant usage, select on all sequences in schema public to authenticated;
revoke all on public.local_credentials, public.processed_events, public.schema_migrations
  from authenticated, anon;
