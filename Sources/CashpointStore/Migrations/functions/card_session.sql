-- What a card-session request needs to know in one round trip: the card's state now, and whether the
-- session has been ended.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.card_session(p_pan_digest bytea, p_jti text)
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

GRANT EXECUTE ON FUNCTION bank.card_session(bytea, text) TO cashpoint_switch;
