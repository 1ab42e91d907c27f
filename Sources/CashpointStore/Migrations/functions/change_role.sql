-- High-risk (four eyes): only as an approved change (bank.approve_change).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.change_role(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_new_role text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin']);
    PERFORM bank.require_approved_change('user.role', p_user_name);
    UPDATE bank.users u SET role = p_new_role
    WHERE u.user_name = p_user_name AND u.role <> 'customer' AND p_new_role IN ('teller', 'admin', 'compliance');
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, 'user.role', CASE WHEN v_count = 1 THEN '00' ELSE '12' END,
        jsonb_build_object('user_name', p_user_name, 'role', p_new_role), p_ip, p_device);
    RETURN v_count = 1;
END
$$;

REVOKE ALL ON FUNCTION bank.change_role(text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.change_role(text, text, text, text, text, text) TO cashpoint_switch;
