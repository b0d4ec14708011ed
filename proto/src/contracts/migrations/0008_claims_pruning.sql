-- Event claims are pruned once the bus can no longer redeliver their events (contracts.db.prune_claims);
-- this index keeps that delete from scanning the whole table.
create index processed_events_processed_at_idx on public.processed_events (processed_at);
