-- A step in a case's life, by a compliance officer: p_action is
--   assign    p_argument: the compliance officer who works it; open -> assigned
--             (an assigned or escalated case keeps its status, with the new assignee);
--   escalate  assigned -> escalated, with a note saying why;
--   note      a note on a case that is not closed;
--   close     any active case -> closed, p_argument the disposition (false_positive,
--             customer_contacted, report_filed), with a note. A high-severity case is closed by a
--             second person: not the one who opened it, nor the one who assigned it (58).
-- Answers 00; 12 with the reason for a step the case's status does not allow, an unknown case,
-- assignee or disposition, or a missing note; 58 when this person may not take the step. Every step is
-- a row of bank.case_events and an audit row (refusals too).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.work_case(
    p_role text, p_actor text, p_ip text, p_device text, p_case_id bigint, p_action text, p_argument text,
    p_note text
) RETURNS TABLE (response_code text, detail text, status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_case bank.cases%ROWTYPE;
    v_refusal text;
    v_code text := '12';
    v_status text;
    v_note text := nullif(btrim(coalesce(p_note, '')), '');
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['compliance']);
    SELECT * INTO v_case FROM bank.cases c WHERE c.id = p_case_id FOR UPDATE;
    v_status := v_case.status;
    v_refusal := CASE
        WHEN v_case.id IS NULL THEN 'no such case'
        WHEN p_action NOT IN ('assign', 'escalate', 'note', 'close') THEN 'unknown step ' || coalesce(p_action, '')
        WHEN v_case.status = 'closed' THEN 'the case is closed'
        WHEN length(v_note) > 2000 THEN 'the note is longer than 2000 characters'
        WHEN p_action = 'assign' AND NOT EXISTS (
            SELECT 1 FROM bank.users u WHERE u.user_name = p_argument AND u.role = 'compliance' AND NOT u.locked)
            THEN 'no compliance officer ' || coalesce(p_argument, '')
        WHEN p_action = 'escalate' AND v_case.status <> 'assigned' THEN 'only an assigned case is escalated'
        WHEN p_action IN ('escalate', 'note', 'close') AND v_note IS NULL THEN 'a note is needed'
        WHEN p_action = 'close' AND (p_argument IS NULL
            OR p_argument NOT IN ('false_positive', 'customer_contacted', 'report_filed'))
            THEN 'the disposition is false_positive, customer_contacted or report_filed'
    END;
    IF v_refusal IS NULL AND p_action = 'close' AND v_case.severity = 'high'
        AND p_actor IN (v_case.opened_by, coalesce(v_case.assigned_by, '')) THEN
        v_code := '58';
        v_refusal := 'a high-severity case is closed by another person than the one who opened or assigned it';
    END IF;
    IF v_refusal IS NOT NULL THEN
        PERFORM bank.audit(p_actor, 'case.' || coalesce(p_action, 'step'), v_code,
            jsonb_build_object('case', p_case_id, 'reason', v_refusal), p_ip, p_device);
        RETURN QUERY SELECT v_code, v_refusal, v_status;
        RETURN;
    END IF;
    CASE p_action
    WHEN 'assign' THEN
        UPDATE bank.cases c SET assignee = p_argument, assigned_by = p_actor,
            status = CASE WHEN c.status = 'open' THEN 'assigned' ELSE c.status END
        WHERE c.id = p_case_id RETURNING c.status INTO v_status;
    WHEN 'escalate' THEN
        UPDATE bank.cases c SET status = 'escalated' WHERE c.id = p_case_id RETURNING c.status INTO v_status;
    WHEN 'close' THEN
        UPDATE bank.cases c SET status = 'closed', disposition = p_argument, closed_by = p_actor, closed_at = now()
        WHERE c.id = p_case_id RETURNING c.status INTO v_status;
    ELSE
        NULL;
    END CASE;
    INSERT INTO bank.case_events (case_id, actor, event, status_after, detail)
    VALUES (p_case_id, p_actor, CASE p_action WHEN 'assign' THEN 'assigned' WHEN 'escalate' THEN 'escalated'
            WHEN 'close' THEN 'closed' ELSE 'note' END, v_status,
        concat_ws(': ', CASE p_action WHEN 'assign' THEN 'to ' || p_argument WHEN 'close' THEN p_argument END, v_note));
    PERFORM bank.audit(p_actor, 'case.' || p_action, '00',
        jsonb_build_object('case', p_case_id, 'status', v_status, 'argument', p_argument), p_ip, p_device);
    RETURN QUERY SELECT '00'::text, NULL::text, v_status;
END
$$;

REVOKE ALL ON FUNCTION bank.work_case(text, text, text, text, bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.work_case(text, text, text, text, bigint, text, text, text) TO cashpoint_switch;
