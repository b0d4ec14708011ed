-- The customer line (its transcript seq) that the turn making a tool request was answering. A new owner
-- of the call counts that line answered by the request, and only that one: a line the customer added
-- while the turn ran waits for its own answer. (The request's time could not tell them apart: both
-- lines come before it.) Empty for a request made outside a turn.
alter table public.tool_requests add column answers_seq integer;
