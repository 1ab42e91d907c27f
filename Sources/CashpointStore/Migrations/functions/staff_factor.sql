-- A member of staff's second factor for sign-on and step-up: the sealed secret (the switch opens it),
-- its parameters, whether it is confirmed and the last time step accepted; no row: none enrolled.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.staff_factor(p_user_id bigint)
RETURNS TABLE (sealed_secret bytea, algorithm text, digits int, confirmed boolean, last_step bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT f.sealed_secret, f.algorithm, f.digits, f.confirmed, f.last_step
    FROM bank.staff_factors f WHERE f.user_id = p_user_id
$$;

REVOKE ALL ON FUNCTION bank.staff_factor(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.staff_factor(bigint) TO cashpoint_switch;
