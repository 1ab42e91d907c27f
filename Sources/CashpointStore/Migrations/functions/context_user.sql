-- Row-level security's context: the customer's user id (cashpoint.user_id), NULL when unset. See
-- context_role.sql.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.context_user() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('cashpoint.user_id', true), '')::bigint $$;

REVOKE ALL ON FUNCTION bank.context_user() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.context_user() TO cashpoint_switch;
