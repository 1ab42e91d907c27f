SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.list_users(p_role text, p_actor text, p_ip text, p_device text)
RETURNS TABLE (user_id bigint, user_name text, full_name text, role text, locked boolean, failed_attempts int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin']);
    PERFORM bank.audit(p_actor, 'users.list', '00', '{}'::jsonb, p_ip, p_device);
    RETURN QUERY SELECT u.id, u.user_name, u.full_name, u.role, u.locked, u.failed_attempts
    FROM bank.users u ORDER BY u.id;
END
$$;

REVOKE ALL ON FUNCTION bank.list_users(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.list_users(text, text, text, text) TO cashpoint_switch;
