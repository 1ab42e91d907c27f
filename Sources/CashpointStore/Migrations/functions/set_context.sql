SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.set_context(p_role text, p_user_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
BEGIN
    IF p_role IS NULL OR p_role NOT IN ('customer', 'teller', 'admin', 'compliance', 'system') THEN
        RAISE EXCEPTION 'unknown role %', p_role USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_role = 'customer' AND p_user_id IS NULL THEN
        RAISE EXCEPTION 'a customer context needs its user' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('cashpoint.role', p_role, true);
    PERFORM set_config('cashpoint.user_id', coalesce(p_user_id::text, ''), true);
END
$$;

REVOKE ALL ON FUNCTION bank.set_context(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.set_context(text, bigint) TO cashpoint_switch;
