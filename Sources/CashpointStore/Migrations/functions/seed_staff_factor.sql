-- The seeder's enrolment of a member of staff with a known secret (the demo bank's fixtures), sealed
-- by the switch's key: confirmed at once, with its recovery codes. Refused for a user who has a
-- confirmed factor: replacing one is a reset, which needs four eyes (bank.issue_enrolment_code).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.seed_staff_factor(
    p_user_name text, p_sealed_secret bytea, p_algorithm text, p_digits int, p_recovery_hashes text[]
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_user_id bigint;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT u.id INTO v_user_id FROM bank.users u WHERE u.user_name = p_user_name AND u.role IN ('teller', 'admin', 'compliance');
    IF v_user_id IS NULL THEN
        RAISE EXCEPTION 'no member of staff %', p_user_name USING ERRCODE = 'no_data_found';
    END IF;
    IF EXISTS (SELECT 1 FROM bank.staff_factors f WHERE f.user_id = v_user_id AND f.confirmed) THEN
        RAISE EXCEPTION '% has a second factor: a reset needs four eyes', p_user_name USING ERRCODE = 'CPHLD';
    END IF;
    INSERT INTO bank.staff_factors (user_id, sealed_secret, algorithm, digits, confirmed, confirmed_at)
    VALUES (v_user_id, p_sealed_secret, p_algorithm, p_digits, true, now())
    ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, algorithm = excluded.algorithm,
        digits = excluded.digits, confirmed = true, last_step = NULL, confirmed_at = now();
    DELETE FROM bank.staff_recovery_codes r WHERE r.user_id = v_user_id;
    INSERT INTO bank.staff_recovery_codes (user_id, code_hash) SELECT v_user_id, h FROM unnest(p_recovery_hashes) h;
    PERFORM bank.audit('system', 'factor.seeded', '00', jsonb_build_object('user', v_user_id), NULL, NULL);
    RETURN v_user_id;
END
$$;

REVOKE ALL ON FUNCTION bank.seed_staff_factor(text, bytea, text, int, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.seed_staff_factor(text, bytea, text, int, text[]) TO cashpoint_switch;
