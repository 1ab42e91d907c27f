-- The original a reversal advice names (terminal, STAN, transmission time): its kind, amount, answer,
-- request digest, and the customer accounts it was asked for (from the ledger lines when it moved
-- money, else the account the answer was stored against).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.reversal_original(p_terminal text, p_stan text, p_transmitted text)
RETURNS TABLE (kind text, amount bigint, response_code text, request_digest bytea, from_no text, to_no text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
#variable_conflict use_column
BEGIN
    PERFORM bank.set_context('system', NULL);
    RETURN QUERY
    SELECT t.kind::text, t.amount::bigint, t.response_code::text, t.request_digest::bytea,
        coalesce(
            (SELECT a.account_no FROM bank.history h JOIN bank.accounts a ON a.id = h.account_id
             WHERE h.transaction_id = t.id AND a.kind = 'customer' AND h.amount < 0 LIMIT 1),
            (SELECT a.account_no FROM bank.accounts a WHERE a.id = t.account_id AND t.kind <> 'deposit'))::text,
        coalesce(
            (SELECT a.account_no FROM bank.history h JOIN bank.accounts a ON a.id = h.account_id
             WHERE h.transaction_id = t.id AND a.kind = 'customer' AND h.amount > 0 LIMIT 1),
            (SELECT a.account_no FROM bank.accounts a WHERE a.id = t.account_id AND t.kind = 'deposit'))::text
    FROM bank.transactions t
    WHERE t.terminal_id = p_terminal AND t.stan = p_stan AND t.transmitted = p_transmitted
      AND t.kind IN ('withdrawal', 'deposit', 'transfer');
END
$$;

GRANT EXECUTE ON FUNCTION bank.reversal_original(text, text, text) TO cashpoint_switch;
