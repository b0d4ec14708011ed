-- Call routing: the queue lives in `calls` (status 'queued', ordered by queued_at), so it survives a
-- router restart; the position last announced to the customer is kept so only changes are sent.
alter table public.calls add column queue_position integer check (queue_position > 0);
create index calls_queue_idx on public.calls (queued_at, id) where status = 'queued';
-- Belt and braces behind the router's lock: an agent never has two live calls, whatever runs.
create unique index calls_one_active_per_agent on public.calls (agent_id) where status = 'active';

-- The demo shop the built-in tools work on (order lookup, refund, address change, tickets).
-- Shared platform data: services read and write it as the owner; through a user's session only an
-- admin may see it.
create table public.shop_orders (
  id text primary key check (id ~ '^ORD-[0-9]{3,10}$'),
  customer_email text not null,
  customer_name text not null,
  items jsonb not null default '[]',
  total numeric(10, 2) not null check (total >= 0),
  status text not null check (status in ('processing', 'shipped', 'delivered', 'refunded', 'cancelled')),
  shipping_address text not null,
  carrier text,
  tracking_number text,
  ordered_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index shop_orders_customer_idx on public.shop_orders (customer_email);

create table public.shop_refunds (
  id text primary key,
  order_id text not null references public.shop_orders (id) on delete cascade,
  amount numeric(10, 2) not null check (amount > 0),
  reason text not null default '',
  call_id uuid references public.calls (id) on delete set null,
  created_at timestamptz not null default now()
);

create table public.support_tickets (
  id text primary key,
  call_id uuid references public.calls (id) on delete set null,
  supervisor_id uuid references public.supervisors (id) on delete cascade,
  customer_email text,
  subject text not null,
  body text not null default '',
  status text not null default 'open' check (status in ('open', 'closed')),
  created_at timestamptz not null default now()
);

alter table public.shop_orders enable row level security;
alter table public.shop_refunds enable row level security;
alter table public.support_tickets enable row level security;
create policy shop_orders_admin on public.shop_orders for all to authenticated
  using (public.is_admin()) with check (public.is_admin());
create policy shop_refunds_admin on public.shop_refunds for all to authenticated
  using (public.is_admin()) with check (public.is_admin());
create policy support_tickets_own on public.support_tickets for select to authenticated
  using (supervisor_id = auth.uid() or public.is_admin());
grant select, insert, update, delete on public.shop_orders, public.shop_refunds, public.support_tickets
  to authenticated;

-- Transactional outbox: a service writes the events its change implies in the same transaction as
-- the change, then publishes them; a crash in between leaves them here to be published on restart.
create table public.outbox (
  id bigint generated always as identity primary key,
  event_id uuid not null,
  subject text not null,
  payload jsonb not null,
  staged_at timestamptz not null default now()
);
alter table public.outbox enable row level security;
revoke all on public.outbox from authenticated;
