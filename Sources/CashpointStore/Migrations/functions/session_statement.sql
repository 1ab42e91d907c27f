-- bank.mini_statement for a card session: its lines, or one row (response_code NULL) with the card's state
-- as facts (bank.card_session_refused), from which CashpointBank.CardRules answers.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.session_statement(
    p_pan_digest bytea, p_jti text,
    p_role text, p_user_id bigint, p_card_id bigint, p_account_no text, p_count integer, p_actor text,
    p_ip text, p_device text)
RETURNS TABLE(response_code text, line_id bigint, at timestamptz, kind text, amount bigint, balance_after bigint,
    card_id bigint, card_status text, card_expired boolean, user_locked boolean, session_ended boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank
AS $$
DECLARE
    v_state record;
    v_context text;
BEGIN
    -- The system context reads the card (bank.card_session_refused); the operation sets its own.
    v_context := set_config('cashpoint.role', 'system', true) || set_config('cashpoint.user_id', '', true);
    SELECT * INTO v_state FROM bank.card_session_refused(p_pan_digest, p_jti, p_card_id);
    IF FOUND THEN
        RETURN QUERY SELECT NULL::text, NULL::bigint, NULL::timestamptz, NULL::text, NULL::bigint, NULL::bigint,
            v_state.card_id, v_state.status, v_state.expired, v_state.user_locked, v_state.ended;
        RETURN;
    END IF;
    RETURN QUERY SELECT m.response_code, m.line_id, m.at, m.kind, m.amount, m.balance_after,
        p_card_id, 'active'::text, false, false, false
    FROM bank.mini_statement(p_role, p_user_id, p_card_id, p_account_no, p_count, p_actor, p_ip, p_device) m;
END
$$;

REVOKE ALL ON FUNCTION bank.session_statement(bytea, text, text, bigint, bigint, text, integer, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.session_statement(bytea, text, text, bigint, bigint, text, integer, text, text, text) TO cashpoint_switch;
