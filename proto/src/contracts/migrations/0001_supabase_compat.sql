-- On a Supabase database the auth schema, auth.uid() and the authenticated / anon roles already
-- exist, and this migration changes nothing. On a plain PostgreSQL (the embedded default, compose)
-- it creates the same objects, so every later migration and policy runs unchanged on both.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  -- The services switch to this role per transaction (SET LOCAL ROLE) to act as a user.
  if not pg_has_role(current_user, 'authenticated', 'member') then
    execute format('grant authenticated to %I', current_user);
  end if;
end
$$;

create schema if not exists auth;

do $$
begin
  if to_regprocedure('auth.uid()') is null then
    -- Same definition as Supabase's: the subject of the JWT claims set for this transaction.
    create function auth.uid() returns uuid
      language sql stable
      as $fn$
        select nullif(
          coalesce(
            current_setting('request.jwt.claim.sub', true),
            (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
          ), '')::uuid
      $fn$;
    grant usage on schema auth to authenticated, anon;
    grant execute on function auth.uid() to authenticated, anon;
  end if;
end
$$;
