-- Staff log-in: the user's hash and state, then the result recorded (5 wrong in a row lock).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.staff_by_name(p_user_name text)
RETURNS TABLE (user_id bigint, role text, password_hash text, locked boolean, failed_attempts int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    RETURN QUERY SELECT u.id, u.role, u.password_hash, u.locked, u.failed_attempts
    FROM bank.users u WHERE u.user_name = p_user_name AND u.role IN ('teller', 'admin', 'compliance');
END
$$;

REVOKE ALL ON FUNCTION bank.staff_by_name(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.staff_by_name(text) TO cashpoint_switch;
