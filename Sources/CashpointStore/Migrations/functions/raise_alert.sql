-- Records what a rule found (a detector's row, bank.aml_<kind>), once: the same rule and subject with an alert
-- whose window overlaps this one is the same alert, which gains the new transactions and the wider
-- window; otherwise a new alert, which opens the subject's case or joins its active one (raising the
-- case's severity to the alert's if higher). Serialized per rule and subject (a transaction-scoped
-- advisory lock), so two switches examining two postings of one pattern alert once. Audited. Answers
-- the alert's id and whether it is new.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.raise_alert(
    p_rule bank.aml_rules, p_subject text, p_customer_id bigint, p_terminal_id text, p_transaction_ids bigint[],
    p_amount bigint, p_score numeric, p_detail text, p_window_start timestamptz, p_window_end timestamptz
) RETURNS TABLE (alert_id bigint, is_new boolean)
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
DECLARE
    v_case bank.cases%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('cashpoint.alert:' || p_rule.rule_id || ':' || p_subject, 0));
    SELECT a.id INTO alert_id FROM bank.alerts a
    WHERE a.rule_id = p_rule.rule_id AND a.subject = p_subject
      AND a.window_start <= p_window_end AND a.window_end >= p_window_start
    ORDER BY a.id DESC LIMIT 1;
    IF FOUND THEN
        UPDATE bank.alerts a SET
            transaction_ids = ARRAY(SELECT DISTINCT x FROM unnest(a.transaction_ids || p_transaction_ids) x ORDER BY x),
            window_start = least(a.window_start, p_window_start), window_end = greatest(a.window_end, p_window_end),
            amount = greatest(a.amount, p_amount), score = greatest(a.score, p_score),
            detail = CASE WHEN p_amount > a.amount THEN p_detail ELSE a.detail END
        WHERE a.id = alert_id;
        is_new := false;
        RETURN NEXT;
        RETURN;
    END IF;

    PERFORM pg_advisory_xact_lock(hashtextextended('cashpoint.case:' || p_subject, 0));
    SELECT * INTO v_case FROM bank.cases c WHERE c.subject = p_subject AND c.status <> 'closed' FOR UPDATE;
    IF v_case.id IS NULL THEN
        INSERT INTO bank.cases (subject, customer_id, severity, opened_by)
        VALUES (p_subject, p_customer_id, p_rule.severity, 'monitoring')
        RETURNING * INTO v_case;
        INSERT INTO bank.case_events (case_id, actor, event, status_after, detail)
        VALUES (v_case.id, 'monitoring', 'opened', 'open', 'rule ' || p_rule.rule_id || ': ' || p_detail);
        PERFORM bank.audit('monitoring', 'case.opened', '00',
            jsonb_build_object('case', v_case.id, 'subject', p_subject, 'severity', p_rule.severity), NULL, NULL);
    ELSIF array_position(ARRAY['low', 'medium', 'high'], p_rule.severity)
          > array_position(ARRAY['low', 'medium', 'high'], v_case.severity) THEN
        UPDATE bank.cases c SET severity = p_rule.severity WHERE c.id = v_case.id;
    END IF;
    INSERT INTO bank.alerts (rule_id, rule_version, kind, severity, subject, customer_id, terminal_id, transaction_ids,
        amount, score, detail, window_start, window_end, case_id)
    VALUES (p_rule.rule_id, p_rule.version, p_rule.kind, p_rule.severity, p_subject, p_customer_id, p_terminal_id,
        p_transaction_ids, p_amount, p_score, p_detail, p_window_start, p_window_end, v_case.id)
    RETURNING id INTO alert_id;
    INSERT INTO bank.case_events (case_id, actor, event, status_after, detail)
    VALUES (v_case.id, 'monitoring', 'alert', v_case.status, format('alert %s, rule %s: %s', alert_id, p_rule.rule_id, p_detail));
    PERFORM bank.audit('monitoring', 'alert.raised', '00',
        jsonb_build_object('alert', alert_id, 'rule', p_rule.rule_id, 'subject', p_subject, 'case', v_case.id,
            'transactions', to_jsonb(p_transaction_ids)), NULL, NULL);
    is_new := true;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION bank.raise_alert(bank.aml_rules, text, bigint, text, bigint[], bigint, numeric, text, timestamptz, timestamptz) FROM PUBLIC;
