-- A staff sign-on (p_password_ok true or false) or a step-up (p_password_ok NULL: a staff token sent
-- a one-time code) and its second factor, recorded in one transaction:
--   p_factor 'missing': the password was right and no code came: 1A, nothing counted;
--   'right': the TOTP code of time step p_step; accepted only if p_step is after the last accepted step,
--     which this UPDATE advances (so a code is used once, on every switch instance; a replay is 63 and
--     not counted); the first right code confirms an enrolment (its enrolment code is spent);
--   'recovery': the recovery code p_recovery_id matched; it is spent here (a concurrent use of the
--     same code finds it spent: 55);
--   'wrong': a wrong code or enrolment code.
-- A wrong password or code adds one to the user's failed tries, and max_password_tries in a row lock
-- the user (62, audited user.locked); a right password does not clear them until the factor is right.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.record_staff_login(
    p_user_id bigint, p_password_ok boolean, p_factor text, p_step bigint, p_recovery_id bigint,
    p_actor text, p_ip text, p_device text
) RETURNS TABLE (response_code text, failed_attempts int, locked boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_user record;
    v_max int;
    v_code text;
    v_action text;
    v_confirmed boolean;
    v_count int;
    v_strike boolean := false;
BEGIN
    PERFORM bank.set_context('system', NULL);
    IF p_factor NOT IN ('missing', 'right', 'recovery', 'wrong') THEN
        RAISE EXCEPTION 'unknown factor outcome %', p_factor USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT s.max_password_tries INTO v_max FROM bank.settings s;
    SELECT u.id, u.failed_attempts, u.locked INTO v_user FROM bank.users u WHERE u.id = p_user_id FOR UPDATE;
    IF v_user.id IS NULL THEN
        RAISE EXCEPTION 'no user %', p_user_id USING ERRCODE = 'no_data_found';
    END IF;
    IF v_user.locked THEN
        v_code := '62';
        v_action := CASE WHEN p_password_ok IS NULL THEN 'factor.locked' ELSE 'login.locked' END;
    ELSIF p_password_ok IS FALSE THEN
        v_strike := true;
        v_action := 'login.wrong';
    ELSIF p_factor = 'missing' THEN
        v_code := '1A';
        v_action := CASE WHEN p_password_ok IS NULL THEN 'factor.needed' ELSE 'login.factor-needed' END;
    ELSIF p_factor = 'wrong' THEN
        v_strike := true;
        v_action := 'factor.wrong';
    ELSIF p_factor = 'right' THEN
        SELECT f.confirmed INTO v_confirmed FROM bank.staff_factors f WHERE f.user_id = p_user_id FOR UPDATE;
        UPDATE bank.staff_factors f SET last_step = p_step, confirmed = true, confirmed_at = coalesce(f.confirmed_at, now())
        WHERE f.user_id = p_user_id AND (f.last_step IS NULL OR f.last_step < p_step);
        GET DIAGNOSTICS v_count = ROW_COUNT;
        IF v_count = 0 THEN
            v_code := '63';
            v_action := 'factor.replayed';
        ELSE
            v_code := '00';
            v_action := CASE WHEN p_password_ok IS NULL THEN 'factor.right' ELSE 'login.right' END;
            IF NOT v_confirmed THEN
                DELETE FROM bank.enrolment_codes e WHERE e.user_id = p_user_id;
                PERFORM bank.audit(p_actor, 'factor.enrolled', '00', jsonb_build_object('user', p_user_id), p_ip, p_device);
            END IF;
        END IF;
    ELSE
        UPDATE bank.staff_recovery_codes r SET used_at = now()
        WHERE r.id = p_recovery_id AND r.user_id = p_user_id AND r.used_at IS NULL;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        IF v_count = 0 THEN
            v_strike := true;
            v_action := 'factor.wrong';
        ELSE
            v_code := '00';
            v_action := 'factor.recovery';
        END IF;
    END IF;
    IF v_strike THEN
        v_user.failed_attempts := v_user.failed_attempts + 1;
        v_user.locked := v_user.failed_attempts >= v_max;
        v_code := CASE WHEN v_user.locked THEN '62' ELSE '55' END;
        UPDATE bank.users u SET failed_attempts = v_user.failed_attempts, locked = v_user.locked WHERE u.id = p_user_id;
    ELSIF v_code = '00' AND v_user.failed_attempts > 0 THEN
        UPDATE bank.users u SET failed_attempts = 0 WHERE u.id = p_user_id;
        v_user.failed_attempts := 0;
    END IF;
    PERFORM bank.audit(p_actor, v_action, v_code,
        jsonb_build_object('user', p_user_id, 'failed', v_user.failed_attempts)
            || CASE WHEN v_action = 'factor.recovery' THEN jsonb_build_object('recovery_codes_left',
                (SELECT count(*) FROM bank.staff_recovery_codes r WHERE r.user_id = p_user_id AND r.used_at IS NULL))
               ELSE '{}'::jsonb END,
        p_ip, p_device);
    IF v_strike AND v_user.locked AND v_user.failed_attempts = v_max THEN
        PERFORM bank.audit(p_actor, 'user.locked', '62',
            jsonb_build_object('user', p_user_id, 'reason', 'password or code tries exceeded'), p_ip, p_device);
    END IF;
    RETURN QUERY SELECT v_code, v_user.failed_attempts, v_user.locked;
END
$$;

REVOKE ALL ON FUNCTION bank.record_staff_login(bigint, boolean, text, bigint, bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.record_staff_login(bigint, boolean, text, bigint, bigint, text, text, text) TO cashpoint_switch;
