-- The platform's concurrent-call cap as places, one per live call. Routing decisions for different
-- agents run side by side (each under its agent's lock), so the cap cannot be a count read under one
-- lock any more: a call that starts takes a free place (the router tries a transaction-scoped lock on
-- it first, so two routers do not reach for the same one) and gives it back when it ends. The primary
-- key is the database's own guarantee that two live calls never share a place, whatever runs.
create table public.call_capacity (
  place integer primary key check (place >= 0),
  call_id uuid not null unique references public.calls (id) on delete cascade
);
alter table public.call_capacity enable row level security;
revoke all on public.call_capacity from authenticated;

-- The calls live when this arrives hold the first places.
insert into public.call_capacity (place, call_id)
select row_number() over (order by started_at, id) - 1, id from public.calls where status = 'active';
