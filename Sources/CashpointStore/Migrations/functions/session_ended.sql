SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.session_ended(p_jti text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT EXISTS (SELECT 1 FROM bank.ended_sessions e WHERE e.jti = p_jti)
$$;

GRANT EXECUTE ON FUNCTION bank.session_ended(text) TO cashpoint_switch;
