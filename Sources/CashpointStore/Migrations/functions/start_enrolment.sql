-- A member of staff without a confirmed second factor signs on with a right password and their
-- one-time enrolment code (p_code_digest, its keyed digest): the code is spent and a new secret
-- (sealed by the switch) stored unconfirmed with ten new recovery codes (bcrypt hashes); the first
-- right code from it confirms it (bank.record_staff_login). False when the code is wrong, expired or
-- already spent (a concurrent sign-on with the same code spends it once), or the user has a
-- confirmed factor (a reset goes through four eyes: bank.issue_enrolment_code).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.start_enrolment(
    p_user_id bigint, p_code_digest bytea, p_sealed_secret bytea, p_algorithm text, p_digits int,
    p_recovery_hashes text[], p_actor text, p_ip text, p_device text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context('system', NULL);
    IF EXISTS (SELECT 1 FROM bank.staff_factors f WHERE f.user_id = p_user_id AND f.confirmed) THEN
        RETURN false;
    END IF;
    DELETE FROM bank.enrolment_codes e
    WHERE e.user_id = p_user_id AND e.code_digest = p_code_digest AND e.expires_at > now();
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count = 0 THEN
        RETURN false;
    END IF;
    IF cardinality(p_recovery_hashes) <> 10 THEN
        RAISE EXCEPTION 'ten recovery codes' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO bank.staff_factors (user_id, sealed_secret, algorithm, digits)
    VALUES (p_user_id, p_sealed_secret, p_algorithm, p_digits)
    ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, algorithm = excluded.algorithm,
        digits = excluded.digits, confirmed = false, last_step = NULL, created_at = now(), confirmed_at = NULL;
    DELETE FROM bank.staff_recovery_codes r WHERE r.user_id = p_user_id;
    INSERT INTO bank.staff_recovery_codes (user_id, code_hash) SELECT p_user_id, h FROM unnest(p_recovery_hashes) h;
    PERFORM bank.audit(p_actor, 'factor.enrolment', '1A', jsonb_build_object('user', p_user_id), p_ip, p_device);
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION bank.start_enrolment(bigint, bytea, bytea, text, int, text[], text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.start_enrolment(bigint, bytea, bytea, text, int, text[], text, text, text) TO cashpoint_switch;
