-- A high-risk change asked for by a teller or administrator (the maker): held, not applied. Answers
-- 09 and the change's id; 94 and the pending one's id when the same operation on the same target is
-- pending; 58 for a change of the maker's own user; 76 (account), 14 (card) or 12 (user) when the target
-- does not exist. The state it is asked against is stored with its SHA-256, which approval compares.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.request_change(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text,
    p_operation text, p_target text, p_payload jsonb, p_reason text
) RETURNS TABLE (response_code text, change_id bigint, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_state record;
    v_lifetime interval;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'compliance']);
    PERFORM bank.expire_changes(p_ip, p_device);
    IF NOT EXISTS (SELECT 1 FROM bank.high_risk_operations h WHERE h.operation = p_operation) THEN
        RAISE EXCEPTION 'unknown high-risk operation %', p_operation USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_operation IN ('user.unlock', 'user.role', 'factor.reset') AND p_target = p_actor THEN
        PERFORM bank.audit(p_actor, 'change.refused', '58',
            jsonb_build_object('operation', p_operation, 'reason', 'own user'), p_ip, p_device);
        RETURN QUERY SELECT '58'::text, NULL::bigint, 'change of own user'::text;
        RETURN;
    END IF;
    SELECT * INTO v_state FROM bank.change_state(p_operation, p_target, p_payload);
    PERFORM bank.set_context(p_role, NULL);
    IF v_state.state_before IS NULL THEN
        RETURN QUERY SELECT
            CASE WHEN p_operation = 'card.unlock' THEN '14'
                 WHEN p_operation LIKE 'account.%' OR p_operation LIKE 'desk.%' THEN '76' ELSE '12' END,
            NULL::bigint,
            CASE WHEN p_operation = 'staff.create' THEN 'the user name is taken' ELSE 'no such ' || split_part(p_operation, '.', 1) END;
        RETURN;
    END IF;
    SELECT s.change_lifetime INTO v_lifetime FROM bank.settings s;
    BEGIN
        INSERT INTO bank.changes (operation, target, payload, reason, maker_id, maker_name, maker_role, maker_ip,
            maker_device, state_before, state_after, state_digest, expires_at)
        VALUES (p_operation, p_target, p_payload, p_reason, p_user_id, p_actor, p_role, p_ip, p_device,
            v_state.state_before, v_state.state_after, sha256(convert_to(v_state.state_before, 'UTF8')),
            now() + v_lifetime)
        RETURNING id INTO change_id;
    EXCEPTION WHEN unique_violation THEN
        SELECT c.id INTO change_id FROM bank.changes c
        WHERE c.operation = p_operation AND c.target = p_target AND c.status = 'pending';
        response_code := '94';
        detail := 'same change pending';
        RETURN NEXT;
        RETURN;
    END;
    PERFORM bank.audit(p_actor, 'change.held', '09',
        jsonb_build_object('change', change_id, 'operation', p_operation, 'reason', p_reason), p_ip, p_device);
    response_code := '09';
    detail := NULL;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION bank.request_change(text, bigint, text, text, text, text, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.request_change(text, bigint, text, text, text, text, text, jsonb, text) TO cashpoint_switch;
