-- The card's state when the card session may not go on: the card is gone or is not the session's, it
-- is not active, its customer is locked, or the session has ended. No row when it may go on.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.card_session_refused(p_pan_digest bytea, p_jti text, p_card_id bigint)
RETURNS TABLE(card_id bigint, status text, user_locked boolean, ended boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank
AS $$
DECLARE
    v_state record;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT s.card_id, s.status, s.user_locked, s.ended INTO v_state FROM bank.card_session(p_pan_digest, p_jti) s;
    IF v_state.card_id IS DISTINCT FROM p_card_id OR v_state.status <> 'active' OR v_state.user_locked
       OR v_state.ended THEN
        RETURN QUERY SELECT v_state.card_id, v_state.status, v_state.user_locked, v_state.ended;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION bank.card_session_refused(bytea, text, bigint) FROM PUBLIC;
