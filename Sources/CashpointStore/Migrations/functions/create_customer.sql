-- Administration: checks the actor's role itself (the SQL layer of the permission table).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.create_customer(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_full_name text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    INSERT INTO bank.users (user_name, full_name, role) VALUES (p_user_name, p_full_name, 'customer')
    RETURNING id INTO v_id;
    PERFORM bank.audit(p_actor, 'customer.create', '00',
        jsonb_build_object('user', v_id, 'user_name', p_user_name), p_ip, p_device);
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION bank.create_customer(text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.create_customer(text, text, text, text, text, text) TO cashpoint_switch;
