-- 0006: ended sessions, shared by every switch instance. A session token whose session was ended
-- (the card returned, the teller signed off) is refused by any switch, also after a restart, until it
-- would have expired anyway. One row per ended session; rows past their expiry only take space.
SET LOCAL ROLE cashpoint_owner;

CREATE TABLE bank.ended_sessions (
    jti text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 64),
    ended_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- Ends a session and audits it, once (ending it again changes nothing).
CREATE FUNCTION bank.end_session(
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

CREATE FUNCTION bank.session_ended(p_jti text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT EXISTS (SELECT 1 FROM bank.ended_sessions e WHERE e.jti = p_jti)
$$;

-- What a card-session request needs to know in one round trip: the card's state now, and whether the
-- session has been ended.
CREATE FUNCTION bank.card_session(p_pan_digest bytea, p_jti text)
RETURNS TABLE (card_id bigint, status text, user_locked boolean, ended boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    RETURN QUERY
    SELECT c.id, c.status, u.locked, EXISTS (SELECT 1 FROM bank.ended_sessions e WHERE e.jti = p_jti)
    FROM bank.cards c JOIN bank.users u ON u.id = c.user_id
    WHERE c.pan_digest = p_pan_digest;
END
$$;

REVOKE ALL ON bank.ended_sessions FROM PUBLIC, cashpoint_switch;
GRANT SELECT ON bank.ended_sessions TO cashpoint_switch;
GRANT EXECUTE ON FUNCTION
    bank.end_session(text, text, timestamptz, text, text, text),
    bank.session_ended(text),
    bank.card_session(bytea, text)
TO cashpoint_switch;
