-- 0017 (issue 13): a card-session transaction in one round trip. A request that carries a card
-- session's token used to read the card's state (bank.card_session) and then post (bank.post, or
-- bank.balance, bank.mini_statement): two round trips. These functions do both in one call: they look
-- at the card and the session first and, when the card may not be used now, post nothing and return
-- the card's state, from which the switch's one card rule (CashpointBank.CardRules) chooses the answer.
--
-- Redefines no function. New: bank.card_session_refused, bank.session_post, bank.session_balance,
-- bank.session_statement.
SET LOCAL ROLE cashpoint_owner;

-- The card's state when the card session may not go on: the card is gone or is not the session's, it
-- is not active, its customer is locked, or the session has ended. No row when it may go on.
CREATE FUNCTION bank.card_session_refused(p_pan_digest bytea, p_jti text, p_card_id bigint)
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

-- bank.post for a card session: the answer of bank.post, or (response_code NULL) the card's state.
-- Its parameters are bank.post's, then the card's PAN digest and the session's id.
CREATE FUNCTION bank.session_post(
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

-- bank.balance for a card session: its answer, or (response_code NULL) the card's state.
CREATE FUNCTION bank.session_balance(
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

-- bank.mini_statement for a card session: its lines, or one row (response_code NULL) with the card's state.
CREATE FUNCTION bank.session_statement(
    p_pan_digest bytea, p_jti text,
    p_role text, p_user_id bigint, p_card_id bigint, p_account_no text, p_count integer, p_actor text,
    p_ip text, p_device text)
RETURNS TABLE(response_code text, line_id bigint, at timestamptz, kind text, amount bigint, balance_after bigint,
    card_id bigint, card_status text, user_locked boolean, session_ended boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank
AS $$
DECLARE
    v_state record;
BEGIN
    SELECT * INTO v_state FROM bank.card_session_refused(p_pan_digest, p_jti, p_card_id);
    IF FOUND THEN
        RETURN QUERY SELECT NULL::text, NULL::bigint, NULL::timestamptz, NULL::text, NULL::bigint, NULL::bigint,
            v_state.card_id, v_state.status, v_state.user_locked, v_state.ended;
        RETURN;
    END IF;
    RETURN QUERY SELECT m.response_code, m.line_id, m.at, m.kind, m.amount, m.balance_after,
        p_card_id, 'active'::text, false, false
    FROM bank.mini_statement(p_role, p_user_id, p_card_id, p_account_no, p_count, p_actor, p_ip, p_device) m;
END
$$;

REVOKE ALL ON FUNCTION bank.card_session_refused(bytea, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    bank.session_post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text, bytea, text),
    bank.session_balance(bytea, text, text, bigint, bigint, text, text, text, text),
    bank.session_statement(bytea, text, text, bigint, bigint, text, integer, text, text, text)
    TO cashpoint_switch;
