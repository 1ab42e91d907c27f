-- The audit log, newest first, filtered by actor, action and time, paged by id.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.read_audit(
    p_role text, p_actor text, p_ip text, p_device text,
    p_filter_actor text, p_filter_action text, p_since timestamptz, p_until timestamptz,
    p_before_id bigint, p_limit int
) RETURNS TABLE (id bigint, at timestamptz, actor text, action text, outcome text, details jsonb, ip text, device text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin']);
    PERFORM bank.audit(p_actor, 'audit.read', '00',
        jsonb_build_object('actor', p_filter_actor, 'action', p_filter_action, 'before', p_before_id), p_ip, p_device);
    RETURN QUERY
    SELECT l.id, l.at, l.actor, l.action, l.outcome, l.details, l.ip, l.device
    FROM bank.audit_logs l
    WHERE (p_filter_actor IS NULL OR l.actor = p_filter_actor)
      AND (p_filter_action IS NULL OR l.action = p_filter_action)
      AND (p_since IS NULL OR l.at >= p_since)
      AND (p_until IS NULL OR l.at < p_until)
      AND (p_before_id IS NULL OR l.id < p_before_id)
    ORDER BY l.id DESC
    LIMIT greatest(1, least(coalesce(p_limit, 50), 500));
END
$$;

REVOKE ALL ON FUNCTION bank.read_audit(text, text, text, text, text, text, timestamp with time zone, timestamp with time zone, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.read_audit(text, text, text, text, text, text, timestamp with time zone, timestamp with time zone, bigint, integer) TO cashpoint_switch;
