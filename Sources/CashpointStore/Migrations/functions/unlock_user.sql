-- High-risk (four eyes): only as an approved change (bank.approve_change).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.unlock_user(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin']);
    PERFORM bank.require_approved_change('user.unlock', p_user_name);
    UPDATE bank.users u SET locked = false, failed_attempts = 0 WHERE u.user_name = p_user_name;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, 'user.unlock', CASE WHEN v_count = 1 THEN '00' ELSE '14' END,
        jsonb_build_object('user_name', p_user_name), p_ip, p_device);
    RETURN v_count = 1;
END
$$;

REVOKE ALL ON FUNCTION bank.unlock_user(text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.unlock_user(text, text, text, text, text) TO cashpoint_switch;
