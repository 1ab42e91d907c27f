-- The compliance desk's queue: cases in p_status ('active': not closed; 'all'; or one status), the
-- most severe first, then the oldest, p_offset rows skipped, at most p_limit (1-50); with each case the
-- rules of its alerts (distinct, space-separated).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.list_cases(
    p_role text, p_actor text, p_ip text, p_device text, p_status text, p_offset int, p_limit int
) RETURNS TABLE (case_id bigint, subject text, customer text, severity text, status text, assignee text,
    opened_at timestamptz, alerts bigint, last_event_at timestamptz, rules text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['compliance']);
    RETURN QUERY
    SELECT c.id, c.subject, coalesce(u.user_name, split_part(c.subject, ':', 2)), c.severity, c.status, c.assignee,
        c.opened_at, (SELECT count(*) FROM bank.alerts a WHERE a.case_id = c.id),
        (SELECT max(e.at) FROM bank.case_events e WHERE e.case_id = c.id),
        coalesce((SELECT string_agg(DISTINCT a.rule_id, ' ' ORDER BY a.rule_id) FROM bank.alerts a WHERE a.case_id = c.id), '')
    FROM bank.cases c LEFT JOIN bank.users u ON u.id = c.customer_id
    WHERE CASE p_status WHEN 'all' THEN true WHEN 'active' THEN c.status <> 'closed' ELSE c.status = p_status END
    ORDER BY array_position(ARRAY['high', 'medium', 'low'], c.severity), c.opened_at, c.id
    OFFSET greatest(coalesce(p_offset, 0), 0)
    LIMIT least(greatest(coalesce(p_limit, 20), 1), 50);
END
$$;

REVOKE ALL ON FUNCTION bank.list_cases(text, text, text, text, text, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.list_cases(text, text, text, text, text, int, int) TO cashpoint_switch;
