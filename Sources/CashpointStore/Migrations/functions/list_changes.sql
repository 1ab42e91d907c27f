-- The held changes in one state ('all' for every state), newest first, ids below p_before_id (NULL:
-- from the newest), at most p_limit: for the desk's pending-approvals screen. A card's target is shown
-- by its masked PAN, a desk movement's by its account.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.list_changes(
    p_role text, p_actor text, p_ip text, p_device text, p_status text, p_before_id bigint, p_limit int
) RETURNS TABLE (change_id bigint, status text, operation text, subject text, maker text, requested_at timestamptz,
    expires_at timestamptz, checker text, reason text, state_before text, state_after text, decision_reason text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'compliance']);
    PERFORM bank.expire_changes(p_ip, p_device);
    RETURN QUERY
    SELECT c.id, c.status, c.operation,
        CASE WHEN c.operation = 'card.unlock' THEN coalesce(c.payload->>'masked_pan', 'card') ELSE c.target END,
        c.maker_name, c.requested_at, c.expires_at, c.checker_name, c.reason, c.state_before, c.state_after,
        c.decision_reason
    FROM bank.changes c
    WHERE (p_status = 'all' OR c.status = p_status) AND (p_before_id IS NULL OR c.id < p_before_id)
    ORDER BY c.id DESC
    LIMIT least(greatest(p_limit, 1), 50);
END
$$;

REVOKE ALL ON FUNCTION bank.list_changes(text, text, text, text, text, bigint, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.list_changes(text, text, text, text, text, bigint, int) TO cashpoint_switch;
