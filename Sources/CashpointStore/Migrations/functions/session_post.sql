-- bank.post for a card session: the answer of bank.post, or (response_code NULL) the card's state.
-- Its parameters are bank.post's, then the card's PAN digest and the session's id.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.session_post(
    p_role text, p_user_id bigint, p_card_id bigint, p_actor text, p_ip text, p_device text, p_terminal text,
    p_stan text, p_transmitted text, p_digest bytea, p_kind text, p_amount bigint, p_from text, p_to text,
    p_pan_digest bytea, p_jti text)
RETURNS TABLE(response_code text, transaction_id bigint, balance_after bigint, auth_code text, replayed boolean,
    card_id bigint, card_status text, user_locked boolean, session_ended boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_state record;
BEGIN
    SELECT * INTO v_state FROM bank.card_session_refused(p_pan_digest, p_jti, p_card_id);
    IF FOUND THEN
        RETURN QUERY SELECT NULL::text, NULL::bigint, NULL::bigint, NULL::text, false,
            v_state.card_id, v_state.status, v_state.user_locked, v_state.ended;
        RETURN;
    END IF;
    RETURN QUERY SELECT p.response_code, p.transaction_id, p.balance_after, p.auth_code, p.replayed,
        p_card_id, 'active'::text, false, false
    FROM bank.post(p_role, p_user_id, p_card_id, p_actor, p_ip, p_device, p_terminal, p_stan, p_transmitted,
        p_digest, p_kind, p_amount, p_from, p_to) p;
END
$$;

REVOKE ALL ON FUNCTION bank.session_post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.session_post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text, bytea, text) TO cashpoint_switch;
