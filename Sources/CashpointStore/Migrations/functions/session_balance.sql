-- bank.balance for a card session: its answer, or (response_code NULL) the card's state.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.session_balance(
    p_pan_digest bytea, p_jti text,
    p_role text, p_user_id bigint, p_card_id bigint, p_account_no text, p_actor text, p_ip text, p_device text)
RETURNS TABLE(response_code text, balance bigint, card_id bigint, card_status text, user_locked boolean,
    session_ended boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_state record;
BEGIN
    SELECT * INTO v_state FROM bank.card_session_refused(p_pan_digest, p_jti, p_card_id);
    IF FOUND THEN
        RETURN QUERY SELECT NULL::text, NULL::bigint, v_state.card_id, v_state.status, v_state.user_locked,
            v_state.ended;
        RETURN;
    END IF;
    RETURN QUERY SELECT b.response_code, b.balance, p_card_id, 'active'::text, false, false
    FROM bank.balance(p_role, p_user_id, p_card_id, p_account_no, p_actor, p_ip, p_device) b;
END
$$;

REVOKE ALL ON FUNCTION bank.session_balance(bytea, text, text, bigint, bigint, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.session_balance(bytea, text, text, bigint, bigint, text, text, text, text) TO cashpoint_switch;
