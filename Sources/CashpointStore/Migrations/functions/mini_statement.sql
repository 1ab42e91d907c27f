-- The last p_count ledger lines of one account, newest first. Audited.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.mini_statement(
    p_role text, p_user_id bigint, p_card_id bigint, p_account_no text, p_count int,
    p_actor text, p_ip text, p_device text
) RETURNS TABLE (response_code text, line_id bigint, at timestamptz, kind text, amount bigint, balance_after bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_account record;
    v_code text := '00';
BEGIN
    PERFORM bank.set_context(p_role, p_user_id);
    SELECT a.id, a.kind INTO v_account FROM bank.accounts a WHERE a.account_no = p_account_no;
    IF v_account.id IS NULL OR (p_role = 'customer' AND v_account.kind <> 'customer') THEN
        v_code := '76';
    ELSIF p_card_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM bank.card_accounts ca WHERE ca.card_id = p_card_id AND ca.account_id = v_account.id) THEN
        v_code := '57';
    END IF;
    PERFORM bank.audit(p_actor, 'statement', v_code, jsonb_build_object('account', p_account_no), p_ip, p_device);
    IF v_code <> '00' THEN
        RETURN QUERY SELECT v_code, NULL::bigint, NULL::timestamptz, NULL::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT v_code, h.line_no::bigint, h.created_at, t.kind::text, h.amount::bigint, h.balance_after
    FROM bank.history h JOIN bank.transactions t ON t.id = h.transaction_id
    WHERE h.account_id = v_account.id
    ORDER BY h.line_no DESC
    LIMIT greatest(1, least(p_count, 50));
END
$$;

REVOKE ALL ON FUNCTION bank.mini_statement(text, bigint, bigint, text, integer, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.mini_statement(text, bigint, bigint, text, integer, text, text, text) TO cashpoint_switch;
