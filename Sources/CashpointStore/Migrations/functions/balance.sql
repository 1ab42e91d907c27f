-- Balance of one account, in the actor's context (a customer sees only their own). Audited.
-- For a card session (p_pan_digest given, with the session's id p_jti), the card and the session are
-- checked first, in the same call (bank.card_session_refused): when the session may not go on, nothing
-- is read or audited and the one row has response_code NULL and the card's state as facts, from which
-- CashpointBank.CardRules answers. bank.session_balance names this form.
-- The context is set and the audit row written here, not through bank.set_context and bank.audit: on a
-- card session's balance inquiry those two nested calls (a PL/pgSQL one and an SQL one, parsed and
-- planned again on every call, each swapping settings) cost more than the rest of it.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.balance(
    p_role text, p_user_id bigint, p_card_id bigint, p_account_no text, p_actor text, p_ip text, p_device text,
    p_pan_digest bytea DEFAULT NULL, p_jti text DEFAULT NULL
) RETURNS TABLE (response_code text, balance bigint, currency text,
    card_id bigint, card_status text, card_expired boolean, user_locked boolean, session_ended boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_account record;
    v_state record;
    v_context text;
BEGIN
    IF p_pan_digest IS NOT NULL THEN
        -- A card session: the system context reads the card (the cards' row-level security).
        v_context := set_config('cashpoint.role', 'system', true) || set_config('cashpoint.user_id', '', true);
        SELECT * INTO v_state FROM bank.card_session_refused(p_pan_digest, p_jti, p_card_id);
        IF FOUND THEN
            card_id := v_state.card_id;
            card_status := v_state.status;
            card_expired := v_state.expired;
            user_locked := v_state.user_locked;
            session_ended := v_state.ended;
            RETURN NEXT;
            RETURN;
        END IF;
        card_id := p_card_id;
        card_status := 'active';
        card_expired := false;
        user_locked := false;
        session_ended := false;
    END IF;
    IF p_role IS NULL OR p_role NOT IN ('customer', 'teller', 'admin', 'system') OR (p_role = 'customer' AND p_user_id IS NULL) THEN
        PERFORM bank.set_context(p_role, p_user_id); -- raises the error that names what is wrong
    END IF;
    v_context := set_config('cashpoint.role', p_role, true) || set_config('cashpoint.user_id', coalesce(p_user_id::text, ''), true);
    SELECT a.id, a.balance, a.currency, a.kind,
        p_card_id IS NULL OR EXISTS (
            SELECT 1 FROM bank.card_accounts ca WHERE ca.card_id = p_card_id AND ca.account_id = a.id) AS on_card
    INTO v_account
    FROM bank.accounts a WHERE a.account_no = p_account_no;
    response_code := CASE
        WHEN v_account.id IS NULL OR (p_role = 'customer' AND v_account.kind <> 'customer') THEN '76'
        WHEN NOT v_account.on_card THEN '57'
        ELSE '00' END;
    INSERT INTO bank.audit_logs (actor, action, outcome, details, ip, device)
    VALUES (p_actor, 'balance', response_code, jsonb_build_object('account', p_account_no), p_ip, p_device);
    IF response_code = '00' THEN
        balance := v_account.balance;
        currency := v_account.currency;
    END IF;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION bank.balance(text, bigint, bigint, text, text, text, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.balance(text, bigint, bigint, text, text, text, text, bytea, text) TO cashpoint_switch;
