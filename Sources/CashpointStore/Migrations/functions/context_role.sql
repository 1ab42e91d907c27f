-- Row-level security's context, set per transaction by bank.set_context and the functions that move
-- money:
--   cashpoint.role    customer | teller | admin | compliance | system
--   cashpoint.user_id the customer's user id (customer context only)
-- This one answers the role ('none' when unset).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.context_role() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT coalesce(nullif(current_setting('cashpoint.role', true), ''), 'none') $$;

REVOKE ALL ON FUNCTION bank.context_role() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.context_role() TO cashpoint_switch;
