-- One owner per call and service (contracts.ownership): the instance of a service that keeps a live
-- call's state in memory (the agent-worker's session, sentiment's rolling score) holds the call's lease,
-- renewed every few seconds while it lives. A lease past expires_at is free: another instance takes the
-- call over with one update that only succeeds on an expired lease. No foreign key to calls: a lease is
-- taken from call.started, which may be read before (or, in tests, without) the call's row.
create table public.call_leases (
  service text not null,
  call_id uuid not null,
  holder uuid not null,
  expires_at timestamptz not null,
  primary key (service, call_id)
);

-- The sweep looks for expired leases of one service; renewal for one holder's leases.
create index call_leases_expiry_idx on public.call_leases (service, expires_at);
create index call_leases_holder_idx on public.call_leases (holder);

alter table public.call_leases enable row level security;
revoke all on public.call_leases from authenticated, anon;
