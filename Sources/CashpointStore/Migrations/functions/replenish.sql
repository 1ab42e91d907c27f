-- Replenishment (0600 REPLENISH from the ATM itself): cash unloaded from and loaded into the
-- terminal, posted against the vault as one net movement (terminal cash -(loaded - unloaded), vault
-- +(loaded - unloaded)); the transaction's amount is the net's size, the audit row keeps both counts.
-- Only an enabled ATM, for its own cash account. Idempotent by the message's key like every
-- posting: a repeat gets the stored answer, the same key with other content 94. Answers the cash the
-- ledger says the terminal holds afterwards (minus its cash account's balance).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.replenish(
    p_actor text, p_ip text, p_device text, p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_unloaded bigint, p_loaded bigint
) RETURNS TABLE (response_code text, transaction_id bigint, cash_held bigint, replayed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
#variable_conflict use_variable
DECLARE
    v_terminal record;
    v_vault_id bigint;
    v_code text;
    v_net bigint := 0;
    v_cash_balance bigint;
    v_txn bigint;
    v_existing record;
    v_row record;
    v_new bigint;
    v_line_no bigint;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT t.kind, t.enabled, t.cash_account_id INTO v_terminal FROM bank.terminals t WHERE t.id = p_terminal;
    SELECT a.id INTO v_vault_id FROM bank.accounts a WHERE a.kind = 'bank_vault' ORDER BY a.id LIMIT 1;
    v_code := CASE
        WHEN v_terminal.kind IS DISTINCT FROM 'atm' OR NOT v_terminal.enabled OR v_vault_id IS NULL THEN '58'
        WHEN p_unloaded IS NULL OR p_loaded IS NULL OR p_unloaded < 0 OR p_loaded < 0
          OR p_unloaded > 999999999999 OR p_loaded > 999999999999 OR p_unloaded + p_loaded = 0 THEN '13'
        ELSE '00' END;
    IF v_code = '00' THEN
        v_net := p_loaded - p_unloaded;
        -- Both accounts locked in ascending id order, like every posting.
        PERFORM 1 FROM bank.accounts a WHERE a.id IN (v_terminal.cash_account_id, v_vault_id) ORDER BY a.id FOR UPDATE;
    END IF;
    SELECT a.balance INTO v_cash_balance FROM bank.accounts a WHERE a.id = v_terminal.cash_account_id;

    INSERT INTO bank.transactions AS t (terminal_id, stan, transmitted, request_digest, kind, amount,
        response_code, account_id, balance_after, actor)
    VALUES (p_terminal, p_stan, p_transmitted, p_digest, 'replenishment', abs(v_net), v_code,
        v_terminal.cash_account_id, v_cash_balance - v_net, p_actor)
    ON CONFLICT (terminal_id, stan, transmitted) DO NOTHING
    RETURNING t.id INTO v_txn;
    IF v_txn IS NULL THEN
        SELECT t.id, t.kind, t.request_digest, t.response_code, t.balance_after INTO STRICT v_existing
        FROM bank.transactions t
        WHERE t.terminal_id = p_terminal AND t.stan = p_stan AND t.transmitted = p_transmitted;
        IF v_existing.kind = 'replenishment' AND v_existing.request_digest = p_digest THEN
            PERFORM bank.audit(p_actor, 'terminal.replenish', v_existing.response_code,
                jsonb_build_object('replay_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            RETURN QUERY SELECT v_existing.response_code::text, v_existing.id, -v_existing.balance_after, true;
        ELSE
            PERFORM bank.audit(p_actor, 'terminal.replenish', '94',
                jsonb_build_object('duplicate_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan,
                    'reason', 'same key, different content'), p_ip, p_device);
            RETURN QUERY SELECT '94'::text, v_existing.id, -v_cash_balance, false;
        END IF;
        RETURN;
    END IF;

    IF v_net <> 0 THEN
        FOR v_row IN
            SELECT a.id, CASE WHEN a.id = v_vault_id THEN v_net ELSE -v_net END AS amount
            FROM bank.accounts a WHERE a.id IN (v_terminal.cash_account_id, v_vault_id) ORDER BY a.id
        LOOP
            UPDATE bank.accounts a SET balance = a.balance + v_row.amount, line_count = a.line_count + 1
            WHERE a.id = v_row.id
            RETURNING a.balance, a.line_count INTO v_new, v_line_no;
            INSERT INTO bank.history (transaction_id, account_id, line_no, amount, balance_after)
            VALUES (v_txn, v_row.id, v_line_no, v_row.amount, v_new);
        END LOOP;
    END IF;
    PERFORM bank.audit(p_actor, 'terminal.replenish', v_code,
        jsonb_build_object('txn', v_txn, 'terminal', p_terminal, 'stan', p_stan, 'unloaded', p_unloaded,
            'loaded', p_loaded, 'cash_held', CASE WHEN v_code = '00' THEN -(v_cash_balance - v_net) END),
        p_ip, p_device);
    RETURN QUERY SELECT v_code, v_txn, -(v_cash_balance - v_net), false;
END
$$;

GRANT EXECUTE ON FUNCTION bank.replenish(text, text, text, text, text, text, bytea, bigint, bigint) TO cashpoint_switch;
