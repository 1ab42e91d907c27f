-- A second member of staff rejects a held change, with a reason: the same rules as approval (not the
-- maker, not their own user or account, a checker's role), and nothing is applied.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.reject_change(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text, p_id bigint, p_reason text
) RETURNS TABLE (response_code text, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_change bank.changes%ROWTYPE;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'compliance']);
    PERFORM bank.expire_changes(p_ip, p_device);
    SELECT * INTO v_change FROM bank.changes c WHERE c.id = p_id FOR UPDATE;
    IF v_change.id IS NULL OR v_change.status <> 'pending' THEN
        RETURN QUERY SELECT '12'::text,
            CASE WHEN v_change.id IS NULL THEN 'no such change' ELSE 'the change is ' || v_change.status END;
        RETURN;
    END IF;
    detail := bank.checker_refusal(v_change, p_user_id, p_actor, p_role);
    IF detail IS NOT NULL THEN
        PERFORM bank.audit(p_actor, 'change.refused', '58',
            jsonb_build_object('change', p_id, 'operation', v_change.operation, 'maker', v_change.maker_name,
                'reason', detail), p_ip, p_device);
        RETURN QUERY SELECT '58'::text, detail;
        RETURN;
    END IF;
    UPDATE bank.changes c SET status = 'rejected', checker_id = p_user_id, checker_name = p_actor, decided_at = now(),
        decision_reason = p_reason
    WHERE c.id = p_id;
    PERFORM bank.audit(p_actor, 'change.rejected', '00',
        jsonb_build_object('change', p_id, 'operation', v_change.operation, 'maker', v_change.maker_name,
            'checker', p_actor, 'reason', p_reason), p_ip, p_device);
    RETURN QUERY SELECT '00'::text, NULL::text;
END
$$;

REVOKE ALL ON FUNCTION bank.reject_change(text, bigint, text, text, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.reject_change(text, bigint, text, text, text, bigint, text) TO cashpoint_switch;
