-- Ends a session and audits it, once (ending it again changes nothing).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.end_session(
    p_actor text, p_jti text, p_expires timestamptz, p_role text, p_ip text, p_device text
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    INSERT INTO bank.ended_sessions (jti, expires_at) VALUES (p_jti, p_expires) ON CONFLICT (jti) DO NOTHING;
    PERFORM bank.audit(p_actor, 'session.end', '00', jsonb_build_object('role', p_role, 'session', p_jti), p_ip,
        p_device);
END
$$;

GRANT EXECUTE ON FUNCTION bank.end_session(text, text, timestamp with time zone, text, text, text) TO cashpoint_switch;
