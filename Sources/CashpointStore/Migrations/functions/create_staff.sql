-- High-risk (four eyes): only as an approved change (bank.approve_change), or by the seeder ('system').
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.create_staff(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_full_name text,
    p_staff_role text, p_password_hash text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin', 'system']);
    IF p_role <> 'system' THEN
        PERFORM bank.require_approved_change('staff.create', p_user_name);
    END IF;
    IF p_staff_role NOT IN ('teller', 'admin', 'compliance') THEN
        RAISE EXCEPTION 'staff are tellers, administrators or compliance officers' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO bank.users (user_name, full_name, role, password_hash)
    VALUES (p_user_name, p_full_name, p_staff_role, p_password_hash)
    RETURNING id INTO v_id;
    PERFORM bank.audit(p_actor, 'staff.create', '00',
        jsonb_build_object('user', v_id, 'user_name', p_user_name, 'role', p_staff_role), p_ip, p_device);
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION bank.create_staff(text, text, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.create_staff(text, text, text, text, text, text, text, text) TO cashpoint_switch;
