-- Mock numbers are unique platform-wide, but RLS hides other supervisors' agents: this answers
-- "is the number taken?" without revealing whose it is.
create function public.phone_number_taken(number text, except_agent uuid default null) returns boolean
  language sql stable security definer
  set search_path = public
  as $$
    select exists (select 1 from public.agents where phone_number = number
                   and (except_agent is null or id <> except_agent))
  $$;
grant execute on function public.phone_number_taken(text, uuid) to authenticated;
