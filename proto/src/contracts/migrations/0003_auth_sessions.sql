-- Sessions and refresh tokens for the gateway's own auth (the embedded default). A refresh token is
-- used once: using it again revokes its whole session (reuse detection). Access tokens carry their
-- session id, so logging out or deleting a user revokes them at once.

create table public.auth_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  refreshed_at timestamptz,
  revoked_at timestamptz,
  revoked_reason text
);
create index auth_sessions_user_idx on public.auth_sessions (user_id) where revoked_at is null;

create table public.refresh_tokens (
  token_hash text primary key,
  session_id uuid not null references public.auth_sessions (id) on delete cascade,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  used_at timestamptz
);
create index refresh_tokens_session_idx on public.refresh_tokens (session_id);

alter table public.auth_sessions enable row level security;
alter table public.refresh_tokens enable row level security;
revoke all on public.auth_sessions, public.refresh_tokens from authenticated, anon;
