-- Opening balances: the bank's equity account against the customer's, balanced like any posting.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.post_opening(p_actor text, p_account_no text, p_amount bigint, p_equity_no text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_txn bigint;
    v_row record;
    v_new bigint;
    v_line_no bigint;
BEGIN
    PERFORM bank.set_context('system', NULL);
    INSERT INTO bank.transactions (terminal_id, stan, transmitted, request_digest, kind, amount, response_code, actor)
    VALUES ('SEED', lpad((SELECT count(*) + 1 FROM bank.transactions WHERE kind = 'opening')::text, 6, '0'),
        '0000000000', '\x00'::bytea, 'opening', p_amount, '00', p_actor)
    RETURNING id INTO v_txn;
    FOR v_row IN
        SELECT a.id, CASE WHEN a.account_no = p_account_no THEN p_amount ELSE -p_amount END AS amount
        FROM bank.accounts a WHERE a.account_no IN (p_account_no, p_equity_no) ORDER BY a.id FOR UPDATE
    LOOP
        UPDATE bank.accounts a SET balance = a.balance + v_row.amount, line_count = a.line_count + 1
        WHERE a.id = v_row.id
        RETURNING a.balance, a.line_count INTO v_new, v_line_no;
        INSERT INTO bank.history (transaction_id, account_id, line_no, amount, balance_after)
        VALUES (v_txn, v_row.id, v_line_no, v_row.amount, v_new);
    END LOOP;
    PERFORM bank.audit(p_actor, 'account.opening', '00',
        jsonb_build_object('account', p_account_no, 'amount', p_amount, 'txn', v_txn), NULL, NULL);
    RETURN v_txn;
END
$$;

REVOKE ALL ON FUNCTION bank.post_opening(text, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.post_opening(text, text, bigint, text) TO cashpoint_switch;
