-- A tool request still pending when its call ends is withdrawn (no decision can matter any more), so it
-- leaves the supervisor's list instead of counting down on a call that is over.
alter table public.tool_requests drop constraint tool_requests_status_check;
alter table public.tool_requests add constraint tool_requests_status_check
  check (status in ('pending', 'allowed', 'denied', 'timed_out', 'withdrawn', 'executed', 'failed'));
update public.tool_requests r set status = 'withdrawn', decided_at = c.ended_at
  from public.calls c where c.id = r.call_id and c.status = 'ended' and r.status = 'pending';
