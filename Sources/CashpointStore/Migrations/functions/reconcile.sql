-- A 0500: the switch's figures for the terminal's period since its last cutover, compared with the
-- terminal's (equal as JSON objects: 00, else 95), the cutover recorded and audited
-- (reconcile.balanced / reconcile.difference, both sides' figures in the details), all in one
-- transaction. One cutover per terminal at a time (an advisory lock). A repeat (same terminal, STAN,
-- transmission time and content) gets the stored answer and cuts over nothing; other content 94.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.reconcile(
    p_actor text, p_ip text, p_device text, p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_settlement_date text, p_terminal_figures jsonb
) RETURNS TABLE (response_code text, switch_figures jsonb, cash_held bigint, cutover_id bigint, replayed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
#variable_conflict use_variable
DECLARE
    v_cash_id bigint;
    v_existing record;
    v_ids bigint[];
    v_cash bigint;
    v_figures jsonb;
    v_code text;
    v_id bigint;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT t.cash_account_id INTO v_cash_id FROM bank.terminals t WHERE t.id = p_terminal;
    IF v_cash_id IS NULL THEN
        RAISE EXCEPTION 'no terminal %', p_terminal USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM pg_advisory_xact_lock(7244, hashtext(p_terminal));

    SELECT c.id, c.request_digest, c.response_code, c.switch_figures, c.cash_held INTO v_existing
    FROM bank.cutovers c WHERE c.terminal_id = p_terminal AND c.stan = p_stan AND c.transmitted = p_transmitted;
    IF FOUND THEN
        IF v_existing.request_digest = p_digest THEN
            PERFORM bank.audit(p_actor,
                CASE WHEN v_existing.response_code = '00' THEN 'reconcile.balanced' ELSE 'reconcile.difference' END,
                v_existing.response_code,
                jsonb_build_object('replay_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            RETURN QUERY SELECT v_existing.response_code::text, v_existing.switch_figures, v_existing.cash_held,
                v_existing.id, true;
        ELSE
            PERFORM bank.audit(p_actor, 'reconcile.difference', '94',
                jsonb_build_object('duplicate_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan,
                    'reason', 'same key, different content'), p_ip, p_device);
            RETURN QUERY SELECT '94'::text, NULL::jsonb, NULL::bigint, v_existing.id, false;
        END IF;
        RETURN;
    END IF;

    -- The period and the cash balance in one statement, so in one snapshot.
    SELECT coalesce((SELECT array_agg(t.id ORDER BY t.id) FROM bank.transactions t
                     WHERE t.terminal_id = p_terminal
                       AND NOT EXISTS (SELECT 1 FROM bank.cutover_transactions c WHERE c.transaction_id = t.id)), '{}'),
           (SELECT -a.balance FROM bank.accounts a WHERE a.id = v_cash_id)
    INTO v_ids, v_cash;
    v_figures := bank.period_figures(v_ids);
    v_code := CASE WHEN v_figures = p_terminal_figures THEN '00' ELSE '95' END;

    INSERT INTO bank.cutovers AS c (terminal_id, stan, transmitted, request_digest, settlement_date,
        last_transaction_id, transaction_count, response_code, terminal_figures, switch_figures, cash_held, actor)
    VALUES (p_terminal, p_stan, p_transmitted, p_digest, p_settlement_date,
        (SELECT max(x) FROM unnest(v_ids) x), cardinality(v_ids), v_code, p_terminal_figures, v_figures, v_cash, p_actor)
    RETURNING c.id INTO v_id;
    INSERT INTO bank.cutover_transactions (transaction_id, cutover_id) SELECT x, v_id FROM unnest(v_ids) x;
    PERFORM bank.audit(p_actor, CASE WHEN v_code = '00' THEN 'reconcile.balanced' ELSE 'reconcile.difference' END,
        v_code,
        jsonb_build_object('cutover', v_id, 'terminal', p_terminal, 'stan', p_stan,
            'settlement_date', p_settlement_date, 'transactions', cardinality(v_ids),
            'last_transaction', (SELECT max(x) FROM unnest(v_ids) x), 'cash_held', v_cash,
            'terminal_figures', p_terminal_figures, 'switch_figures', v_figures),
        p_ip, p_device);
    RETURN QUERY SELECT v_code, v_figures, v_cash, v_id, false;
END
$$;

GRANT EXECUTE ON FUNCTION bank.reconcile(text, text, text, text, text, text, bytea, text, jsonb) TO cashpoint_switch;
