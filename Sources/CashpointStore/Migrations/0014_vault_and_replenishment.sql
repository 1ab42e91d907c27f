-- 0014 (issue 12): the bank's vault, and replenishment of an ATM's cash against it (0600 REPLENISH).
--
-- Redefines no function. Changes the domains bank.account_kind (+ 'bank_vault') and
-- bank.transaction_kind (+ 'replenishment'). New: bank.open_vault, bank.replenish.
SET LOCAL ROLE cashpoint_owner;

ALTER DOMAIN bank.account_kind DROP CONSTRAINT account_kind_check;
ALTER DOMAIN bank.account_kind ADD CONSTRAINT account_kind_check
    CHECK (VALUE IN ('customer', 'terminal_cash', 'teller_drawer', 'bank_equity', 'bank_vault'));
-- 'replenishment': cash loaded into (or unloaded from) a terminal, against the vault.
ALTER DOMAIN bank.transaction_kind DROP CONSTRAINT transaction_kind_check;
ALTER DOMAIN bank.transaction_kind ADD CONSTRAINT transaction_kind_check
    CHECK (VALUE IN ('withdrawal', 'deposit', 'transfer', 'reversal', 'opening', 'voided', 'replenishment'));

-- 1. The vault: the bank's cash that is in no terminal. Sign convention of every cash account (vault,
--    terminal cash, teller drawer): cash the bank holds is a debit, a NEGATIVE balance, because the
--    ledger's balances sum to zero with customers' money positive. A withdrawal credits the terminal's
--    cash account (+amount: cash left the machine), a deposit debits it, loading cash debits it. So the
--    cash the ledger says a terminal holds is minus its cash account's balance.
--    One vault per bank; made once (later calls return it). Its opening cash comes from equity:
--    vault -amount, equity +amount, balanced like any posting.
CREATE FUNCTION bank.open_vault(p_actor text, p_account_no text, p_opening bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
    v_txn bigint;
    v_row record;
    v_new bigint;
    v_line_no bigint;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT a.id INTO v_id FROM bank.accounts a WHERE a.kind = 'bank_vault' ORDER BY a.id LIMIT 1;
    IF v_id IS NOT NULL THEN
        RETURN v_id;
    END IF;
    IF p_account_no IS NULL OR p_account_no !~ '^[A-Z0-9]{4,28}$' THEN
        RAISE EXCEPTION 'an account number is 4-28 capital letters and digits' USING ERRCODE = 'check_violation';
    END IF;
    IF p_opening IS NULL OR p_opening < 0 OR p_opening > 999999999999 THEN
        RAISE EXCEPTION 'the vault''s opening cash is 0 to 999999999999' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO bank.accounts (account_no, name, kind, currency)
    SELECT p_account_no, 'Bank vault (cash in no terminal)', 'bank_vault', s.currency FROM bank.settings s
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RAISE EXCEPTION 'configure the bank before its vault' USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM bank.audit(p_actor, 'account.create', '00',
        jsonb_build_object('account', p_account_no, 'kind', 'bank_vault'), NULL, NULL);
    IF p_opening > 0 THEN
        INSERT INTO bank.transactions (terminal_id, stan, transmitted, request_digest, kind, amount, response_code, actor)
        VALUES ('SEED', lpad((SELECT count(*) + 1 FROM bank.transactions WHERE kind = 'opening')::text, 6, '0'),
            '0000000000', '\x00'::bytea, 'opening', p_opening, '00', p_actor)
        RETURNING id INTO v_txn;
        FOR v_row IN
            SELECT a.id, CASE WHEN a.id = v_id THEN -p_opening ELSE p_opening END AS amount
            FROM bank.accounts a
            WHERE a.id = v_id OR a.id = (SELECT e.id FROM bank.accounts e WHERE e.kind = 'bank_equity' ORDER BY e.id LIMIT 1)
            ORDER BY a.id FOR UPDATE
        LOOP
            UPDATE bank.accounts a SET balance = a.balance + v_row.amount, line_count = a.line_count + 1
            WHERE a.id = v_row.id
            RETURNING a.balance, a.line_count INTO v_new, v_line_no;
            INSERT INTO bank.history (transaction_id, account_id, line_no, amount, balance_after)
            VALUES (v_txn, v_row.id, v_line_no, v_row.amount, v_new);
        END LOOP;
        IF v_line_no IS NULL OR (SELECT count(*) FROM bank.history h WHERE h.transaction_id = v_txn) <> 2 THEN
            RAISE EXCEPTION 'the vault''s opening cash needs an equity account' USING ERRCODE = 'no_data_found';
        END IF;
        PERFORM bank.audit(p_actor, 'account.opening', '00',
            jsonb_build_object('account', p_account_no, 'amount', p_opening, 'txn', v_txn), NULL, NULL);
    END IF;
    RETURN v_id;
END
$$;

-- A bank configured before this migration gets its vault now, with no opening cash: the cash already in
-- its terminals was never in its ledger.
DO $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    IF EXISTS (SELECT 1 FROM bank.settings) THEN
        PERFORM bank.open_vault('migration 0013', 'BANKVAULT', 0);
    END IF;
END
$$;

-- 2. Replenishment (0600 REPLENISH from the ATM itself): cash unloaded from and loaded into the
--    terminal, posted against the vault as one net movement (terminal cash -(loaded - unloaded), vault
--    +(loaded - unloaded)); the transaction's amount is the net's size, the audit row keeps both counts.
--    Only an enabled ATM, for its own cash account. Idempotent by the message's key like every
--    posting: a repeat gets the stored answer, the same key with other content 94. Answers the cash the
--    ledger says the terminal holds afterwards (minus its cash account's balance).
CREATE FUNCTION bank.replenish(
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

REVOKE ALL ON FUNCTION bank.open_vault(text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    bank.open_vault(text, text, bigint),
    bank.replenish(text, text, text, text, text, text, bytea, bigint, bigint)
TO cashpoint_switch;
