-- The card's state when the card session may not go on: the card is gone or is not the session's, it
-- is not active, its customer is locked, or the session has ended. No row when it may go on.
--
-- Called only from bank.session_post, bank.session_balance and bank.session_statement, inside their
-- SECURITY DEFINER call (as cashpoint_owner, search_path pg_catalog, bank): so it is neither SECURITY
-- DEFINER nor has a SET clause of its own, and it reads the card directly. Each nested call with a SET
-- clause saves and restores the settings, and the card-session request is the switch's hottest path.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.card_session_refused(p_pan_digest bytea, p_jti text, p_card_id bigint)
RETURNS TABLE(card_id bigint, status text, user_locked boolean, ended boolean)
LANGUAGE plpgsql SECURITY INVOKER
AS $$
DECLARE
    v_state record;
BEGIN
    -- The cards' row-level security lets the system context read any card.
    PERFORM set_config('cashpoint.role', 'system', true), set_config('cashpoint.user_id', '', true);
    SELECT c.id AS card_id, c.status, u.locked AS user_locked,
        EXISTS (SELECT 1 FROM bank.ended_sessions e WHERE e.jti = p_jti) AS ended
    INTO v_state
    FROM bank.cards c JOIN bank.users u ON u.id = c.user_id
    WHERE c.pan_digest = p_pan_digest;
    IF v_state.card_id IS DISTINCT FROM p_card_id OR v_state.status <> 'active' OR v_state.user_locked
       OR v_state.ended THEN
        RETURN QUERY SELECT v_state.card_id, v_state.status, v_state.user_locked, v_state.ended;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION bank.card_session_refused(bytea, text, bigint) FROM PUBLIC;
