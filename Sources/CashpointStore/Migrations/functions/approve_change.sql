-- A second member of staff (the checker) approves a held change, which is applied in the same
-- transaction. Refused 58 (bank.checker_refusal, the rule approval and rejection share) to the maker,
-- to a checker whose own user or own account the change is about, and to a role the four-eyes table
-- does not name; 12 with the reason for a change that is
-- not pending or whose target changed since it was asked for (the change then 'failed'). Applying runs
-- the operation's own function, which finds the change 'approved' (bank.require_approved_change); a
-- desk withdrawal or deposit is posted under the maker's idempotency key. The operation's own refusal
-- (51 for funds, say) fails the change with that code. p_enrolment_digest: the keyed digest of the
-- enrolment code a factor reset issues (the switch makes the code and shows it to the checker).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.approve_change(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text, p_id bigint, p_enrolment_digest bytea
) RETURNS TABLE (response_code text, detail text, operation text, balance_after bigint, auth_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_change bank.changes%ROWTYPE;
    v_now_state record;
    v_done boolean;
    v_code text := '00';
    v_post record;
    v_account_no text;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'compliance']);
    PERFORM bank.expire_changes(p_ip, p_device);
    SELECT * INTO v_change FROM bank.changes c WHERE c.id = p_id FOR UPDATE;
    IF v_change.id IS NULL OR v_change.status <> 'pending' THEN
        RETURN QUERY SELECT '12'::text,
            CASE WHEN v_change.id IS NULL THEN 'no such change' ELSE 'the change is ' || v_change.status END,
            v_change.operation, NULL::bigint, NULL::text;
        RETURN;
    END IF;
    operation := v_change.operation;
    v_account_no := split_part(v_change.target, '|', 1);
    detail := bank.checker_refusal(v_change, p_user_id, p_actor, p_role);
    PERFORM bank.set_context(p_role, NULL);
    IF detail IS NOT NULL THEN
        PERFORM bank.audit(p_actor, 'change.refused', '58',
            jsonb_build_object('change', p_id, 'operation', v_change.operation, 'maker', v_change.maker_name,
                'reason', detail), p_ip, p_device);
        response_code := '58';
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT * INTO v_now_state FROM bank.change_state(v_change.operation, v_change.target, v_change.payload);
    PERFORM bank.set_context(p_role, NULL);
    IF v_now_state.state_before IS NULL
        OR sha256(convert_to(v_now_state.state_before, 'UTF8')) <> v_change.state_digest THEN
        detail := 'state changed since';
        UPDATE bank.changes c SET status = 'failed', checker_id = p_user_id, checker_name = p_actor,
            decided_at = now(), result_code = '12',
            decision_reason = 'the state changed since the request: now ' || coalesce(v_now_state.state_before, 'gone')
        WHERE c.id = p_id;
        PERFORM bank.audit(p_actor, 'change.failed', '12',
            jsonb_build_object('change', p_id, 'operation', v_change.operation, 'maker', v_change.maker_name,
                'checker', p_actor, 'reason', 'state changed'), p_ip, p_device);
        response_code := '12';
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE bank.changes c SET status = 'approved', checker_id = p_user_id, checker_name = p_actor, decided_at = now()
    WHERE c.id = p_id;
    PERFORM bank.audit(p_actor, 'change.approved', '00',
        jsonb_build_object('change', p_id, 'operation', v_change.operation, 'maker', v_change.maker_name,
            'checker', p_actor), p_ip, p_device);
    CASE v_change.operation
    WHEN 'user.unlock' THEN
        v_done := bank.unlock_user(p_role, p_actor, p_ip, p_device, v_change.target);
        v_code := CASE WHEN v_done THEN '00' ELSE '12' END;
    WHEN 'account.unlock' THEN
        v_done := bank.set_account_locked(p_role, p_actor, p_ip, p_device, v_change.target, false);
        v_code := CASE WHEN v_done THEN '00' ELSE '76' END;
    WHEN 'card.unlock' THEN
        v_done := bank.set_card_status(p_role, p_actor, p_ip, p_device, decode(v_change.target, 'hex'), 'active');
        v_code := CASE WHEN v_done THEN '00' ELSE '14' END;
    WHEN 'account.limits' THEN
        v_done := bank.set_account_limits(p_role, p_actor, p_ip, p_device, v_change.target,
            (v_change.payload->>'daily_limit')::bigint, (v_change.payload->>'daily_count')::int);
        v_code := CASE WHEN v_done THEN '00' ELSE '76' END;
    WHEN 'user.role' THEN
        v_done := bank.change_role(p_role, p_actor, p_ip, p_device, v_change.target, v_change.payload->>'role');
        v_code := CASE WHEN v_done THEN '00' ELSE '12' END;
    WHEN 'staff.create' THEN
        PERFORM bank.create_staff(p_role, p_actor, p_ip, p_device, v_change.target, v_change.payload->>'full_name',
            v_change.payload->>'role', v_change.payload->>'password_hash');
    WHEN 'factor.reset' THEN
        IF p_enrolment_digest IS NULL THEN
            RAISE EXCEPTION 'a factor reset needs the enrolment code''s digest' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT e.response_code INTO v_code
        FROM bank.issue_enrolment_code(p_role, p_user_id, p_actor, p_ip, p_device, v_change.target, p_enrolment_digest) e;
    WHEN 'kyc.verify' THEN
        SELECT d.response_code INTO v_code
        FROM bank.decide_kyc(p_role, p_user_id, p_actor, p_ip, p_device, v_change.target::bigint, 'verified',
            v_change.payload->>'reason', (v_change.payload->>'review_months')::int) d;
    WHEN 'aml.rules' THEN
        PERFORM bank.apply_aml_rules(p_actor, p_ip, p_device, p_id);
    WHEN 'desk.withdrawal', 'desk.deposit' THEN
        SELECT * INTO v_post FROM bank.post(v_change.maker_role, NULL, NULL, v_change.maker_name, v_change.maker_ip,
            v_change.maker_device, v_change.payload->>'terminal', v_change.payload->>'stan',
            v_change.payload->>'transmitted', decode(v_change.payload->>'digest', 'hex'), substr(v_change.operation, 6),
            (v_change.payload->>'amount')::bigint,
            CASE WHEN v_change.operation = 'desk.withdrawal' THEN v_account_no END,
            CASE WHEN v_change.operation = 'desk.deposit' THEN v_account_no END);
        v_code := v_post.response_code;
        balance_after := v_post.balance_after;
        auth_code := v_post.auth_code;
    END CASE;
    PERFORM bank.set_context(p_role, NULL);
    UPDATE bank.changes c SET status = CASE WHEN v_code = '00' THEN 'applied' ELSE 'failed' END, result_code = v_code,
        decision_reason = CASE WHEN v_code = '00' THEN NULL ELSE 'the operation was refused: ' || v_code END
    WHERE c.id = p_id;
    PERFORM bank.audit(p_actor, CASE WHEN v_code = '00' THEN 'change.applied' ELSE 'change.failed' END, v_code,
        jsonb_build_object('change', p_id, 'operation', v_change.operation, 'maker', v_change.maker_name,
            'checker', p_actor), p_ip, p_device);
    response_code := v_code;
    detail := CASE WHEN v_code = '00' THEN NULL ELSE 'operation refused' END;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION bank.approve_change(text, bigint, text, text, text, bigint, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.approve_change(text, bigint, text, text, text, bigint, bytea) TO cashpoint_switch;
