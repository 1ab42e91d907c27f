-- The vault: the bank's cash that is in no terminal. Sign convention of every cash account (vault,
-- terminal cash, teller drawer): cash the bank holds is a debit, a NEGATIVE balance, because the
-- ledger's balances sum to zero with customers' money positive. A withdrawal credits the terminal's
-- cash account (+amount: cash left the machine), a deposit debits it, loading cash debits it. So the
-- cash the ledger says a terminal holds is minus its cash account's balance.
-- One vault per bank; made once (later calls return it). Its opening cash comes from equity:
-- vault -amount, equity +amount, balanced like any posting.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.open_vault(p_actor text, p_account_no text, p_opening bigint) RETURNS bigint
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

REVOKE ALL ON FUNCTION bank.open_vault(text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.open_vault(text, text, bigint) TO cashpoint_switch;
