-- An event is stamped when it is staged, not when its transaction began (now()): the outbox's timer
-- sends only what has waited 2 s, and a long transaction's events looked that old the moment it
-- committed, so the timer sent them alongside their own sender.
alter table public.outbox alter column staged_at set default clock_timestamp();
