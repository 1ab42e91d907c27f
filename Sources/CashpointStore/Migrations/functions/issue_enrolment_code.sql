-- An administrator issues a one-time enrolment code (its keyed digest here; the code goes to the
-- administrator's desk once) for a teller or administrator, valid 24 hours, replacing any earlier one.
-- For a user whose second factor is confirmed this is a reset: it needs an approved 'factor.reset'
-- change (SQLSTATE CPHLD otherwise), and removes the factor and its recovery codes. 12: no such member
-- of staff.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.issue_enrolment_code(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text, p_user_name text, p_code_digest bytea
) RETURNS TABLE (response_code text, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_user record;
    v_reset boolean;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin', 'system']);
    SELECT u.id, coalesce(f.confirmed, false) AS confirmed INTO v_user
    FROM bank.users u LEFT JOIN bank.staff_factors f ON f.user_id = u.id
    WHERE u.user_name = p_user_name AND u.role IN ('teller', 'admin', 'compliance');
    IF v_user.id IS NULL THEN
        RETURN QUERY SELECT '12'::text, 'no such member of staff'::text;
        RETURN;
    END IF;
    v_reset := v_user.confirmed;
    IF v_reset THEN
        PERFORM bank.require_approved_change('factor.reset', p_user_name);
    END IF;
    DELETE FROM bank.staff_factors f WHERE f.user_id = v_user.id;
    DELETE FROM bank.staff_recovery_codes r WHERE r.user_id = v_user.id;
    INSERT INTO bank.enrolment_codes (user_id, code_digest, issued_by, expires_at)
    VALUES (v_user.id, p_code_digest, p_actor, now() + interval '24 hours')
    ON CONFLICT (user_id) DO UPDATE SET code_digest = excluded.code_digest, issued_by = excluded.issued_by,
        expires_at = excluded.expires_at;
    PERFORM bank.audit(p_actor, CASE WHEN v_reset THEN 'factor.reset' ELSE 'factor.enrolment-code' END, '00',
        jsonb_build_object('user', v_user.id, 'user_name', p_user_name), p_ip, p_device);
    RETURN QUERY SELECT '00'::text, NULL::text;
END
$$;

REVOKE ALL ON FUNCTION bank.issue_enrolment_code(text, bigint, text, text, text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.issue_enrolment_code(text, bigint, text, text, text, text, bytea) TO cashpoint_switch;
