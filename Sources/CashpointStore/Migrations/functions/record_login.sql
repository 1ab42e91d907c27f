SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.record_login(p_user_id bigint, p_ok boolean, p_actor text, p_ip text, p_device text)
RETURNS TABLE (response_code text, failed_attempts int, locked boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_user record;
    v_max int;
    v_code text;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT s.max_password_tries INTO v_max FROM bank.settings s;
    SELECT u.id, u.failed_attempts, u.locked INTO v_user FROM bank.users u WHERE u.id = p_user_id FOR UPDATE;
    IF v_user.id IS NULL THEN
        RAISE EXCEPTION 'no user %', p_user_id USING ERRCODE = 'no_data_found';
    END IF;
    IF v_user.locked THEN
        v_code := '62';
    ELSIF p_ok THEN
        v_code := '00';
        IF v_user.failed_attempts > 0 THEN
            UPDATE bank.users u SET failed_attempts = 0 WHERE u.id = p_user_id;
            v_user.failed_attempts := 0;
        END IF;
    ELSE
        v_user.failed_attempts := v_user.failed_attempts + 1;
        v_user.locked := v_user.failed_attempts >= v_max;
        v_code := CASE WHEN v_user.locked THEN '62' ELSE '55' END;
        UPDATE bank.users u SET failed_attempts = v_user.failed_attempts, locked = v_user.locked
        WHERE u.id = p_user_id;
    END IF;
    PERFORM bank.audit(p_actor, CASE WHEN p_ok THEN 'login.right' ELSE 'login.wrong' END, v_code,
        jsonb_build_object('user', p_user_id, 'failed', v_user.failed_attempts), p_ip, p_device);
    IF NOT p_ok AND v_user.locked AND v_user.failed_attempts = v_max THEN
        PERFORM bank.audit(p_actor, 'user.locked', '62',
            jsonb_build_object('user', p_user_id, 'reason', 'password tries exceeded'), p_ip, p_device);
    END IF;
    RETURN QUERY SELECT v_code, v_user.failed_attempts, v_user.locked;
END
$$;

REVOKE ALL ON FUNCTION bank.record_login(bigint, boolean, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.record_login(bigint, boolean, text, text, text) TO cashpoint_switch;
