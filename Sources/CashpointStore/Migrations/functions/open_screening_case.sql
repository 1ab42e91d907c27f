-- A sanctions screening hit's case for a customer (called by bank.record_identity and
-- bank.record_screening in their transaction, never by a caller): a new case, severity high, opened by
-- 'screening' with the hit's detail as its reason; when the customer has an active case, the hit is
-- noted on it and its severity raised to high. Audited (case.opened). Answers the case's id.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.open_screening_case(p_customer bigint, p_detail text, p_ip text, p_device text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_subject text := 'customer:' || p_customer;
    v_case bigint;
    v_reason text := left('sanctions screening hit: ' || coalesce(nullif(btrim(p_detail), ''), 'no detail'), 2000);
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('cashpoint.case:' || v_subject, 0));
    SELECT c.id INTO v_case FROM bank.cases c WHERE c.subject = v_subject AND c.status <> 'closed' FOR UPDATE;
    IF v_case IS NULL THEN
        INSERT INTO bank.cases (subject, customer_id, severity, opened_by)
        VALUES (v_subject, p_customer, 'high', 'screening') RETURNING id INTO v_case;
        INSERT INTO bank.case_events (case_id, actor, event, status_after, detail)
        VALUES (v_case, 'screening', 'opened', 'open', v_reason);
        PERFORM bank.audit('screening', 'case.opened', '00',
            jsonb_build_object('case', v_case, 'subject', v_subject, 'severity', 'high'), p_ip, p_device);
    ELSE
        UPDATE bank.cases c SET severity = 'high' WHERE c.id = v_case;
        INSERT INTO bank.case_events (case_id, actor, event, status_after, detail)
        SELECT v_case, 'screening', 'note', c.status, v_reason FROM bank.cases c WHERE c.id = v_case;
    END IF;
    RETURN v_case;
END
$$;

REVOKE ALL ON FUNCTION bank.open_screening_case(bigint, text, text, text) FROM PUBLIC;
