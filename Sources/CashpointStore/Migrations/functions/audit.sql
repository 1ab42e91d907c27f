SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.audit(
    p_actor text, p_action text, p_outcome text, p_details jsonb, p_ip text, p_device text
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    INSERT INTO bank.audit_logs (actor, action, outcome, details, ip, device)
    VALUES (p_actor, p_action, p_outcome, coalesce(p_details, '{}'::jsonb), p_ip, p_device)
    RETURNING id
$$;

REVOKE ALL ON FUNCTION bank.audit(text, text, text, jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.audit(text, text, text, jsonb, text, text) TO cashpoint_switch;
