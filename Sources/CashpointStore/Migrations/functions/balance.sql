-- Balance of one account, in the actor's context (a customer sees only their own). Audited.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.balance(
    p_role text, p_user_id bigint, p_card_id bigint, p_account_no text, p_actor text, p_ip text, p_device text
) RETURNS TABLE (response_code text, balance bigint, currency text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_account record;
    v_code text := '00';
BEGIN
    PERFORM bank.set_context(p_role, p_user_id);
    SELECT a.id, a.balance, a.currency, a.kind, a.is_locked INTO v_account
    FROM bank.accounts a WHERE a.account_no = p_account_no;
    IF v_account.id IS NULL OR (p_role = 'customer' AND v_account.kind <> 'customer') THEN
        v_code := '76';
    ELSIF p_card_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM bank.card_accounts ca WHERE ca.card_id = p_card_id AND ca.account_id = v_account.id) THEN
        v_code := '57';
    END IF;
    PERFORM bank.audit(p_actor, 'balance', v_code, jsonb_build_object('account', p_account_no), p_ip, p_device);
    IF v_code = '00' THEN
        RETURN QUERY SELECT v_code, v_account.balance, v_account.currency::text;
    ELSE
        RETURN QUERY SELECT v_code, NULL::bigint, NULL::text;
    END IF;
END
$$;

REVOKE ALL ON FUNCTION bank.balance(text, bigint, bigint, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.balance(text, bigint, bigint, text, text, text, text) TO cashpoint_switch;
