-- A case opened by a member of the compliance desk (monitoring opens its own, bank.raise_alert) for a
-- customer (by user name), with a severity and a reason. 00 and the new case; 94 and the active case
-- when the customer has one (a subject has one active case); 12 for an unknown customer or severity.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.open_case(
    p_role text, p_actor text, p_ip text, p_device text, p_customer text, p_severity text, p_reason text
) RETURNS TABLE (response_code text, case_id bigint, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_customer bigint;
    v_subject text;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['compliance']);
    SELECT u.id INTO v_customer FROM bank.users u WHERE u.user_name = p_customer AND u.role = 'customer';
    IF v_customer IS NULL OR p_severity IS NULL OR p_severity NOT IN ('low', 'medium', 'high')
        OR nullif(btrim(coalesce(p_reason, '')), '') IS NULL THEN
        RETURN QUERY SELECT '12'::text, NULL::bigint,
            CASE WHEN v_customer IS NULL THEN 'no customer ' || coalesce(p_customer, '')
                 WHEN nullif(btrim(coalesce(p_reason, '')), '') IS NULL THEN 'a reason is needed'
                 ELSE 'the severity is low, medium or high' END;
        RETURN;
    END IF;
    v_subject := 'customer:' || v_customer;
    PERFORM pg_advisory_xact_lock(hashtextextended('cashpoint.case:' || v_subject, 0));
    SELECT c.id INTO case_id FROM bank.cases c WHERE c.subject = v_subject AND c.status <> 'closed';
    IF FOUND THEN
        RETURN QUERY SELECT '94'::text, case_id, 'the customer has an active case'::text;
        RETURN;
    END IF;
    INSERT INTO bank.cases (subject, customer_id, severity, opened_by)
    VALUES (v_subject, v_customer, p_severity, p_actor) RETURNING id INTO case_id;
    INSERT INTO bank.case_events (case_id, actor, event, status_after, detail)
    VALUES (case_id, p_actor, 'opened', 'open', left(p_reason, 2000));
    PERFORM bank.audit(p_actor, 'case.opened', '00',
        jsonb_build_object('case', case_id, 'subject', v_subject, 'severity', p_severity), p_ip, p_device);
    RETURN QUERY SELECT '00'::text, case_id, NULL::text;
END
$$;

REVOKE ALL ON FUNCTION bank.open_case(text, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.open_case(text, text, text, text, text, text, text) TO cashpoint_switch;
