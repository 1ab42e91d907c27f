-- Transaction monitoring, rule kind 'dormant_reactivated', after commit: an approved withdrawal (at the
-- ATM or the desk) or transfer out of more than `min_amount` from a customer account whose previous
-- movement (or, with none, its opening) is at least the rule's window (180 days) older. One row or none.
-- The previous movement is the latest line of another transaction on the account at or before this
-- one's time (history_account_time: one step back in the index, whatever the account's length).
-- PL/pgSQL for its cached plans.
-- bank.monitor calls it only for the postings the kind applies to (its detecting statement says which).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_dormant_reactivated(p_rule bank.aml_rules, p_txn bank.transactions)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE plpgsql STABLE ROWS 1 SET search_path = pg_catalog, bank AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT 'customer:' || a.user_id, a.user_id, NULL::text, ARRAY[p_txn.id], p_txn.amount::bigint,
        round(100.0 * extract(epoch FROM p_txn.created_at - q.quiet_since) / extract(epoch FROM p_rule.time_window), 2),
        format('account %s: %s out after no movement since %s', a.account_no,
            to_char(p_txn.amount / 100.0, 'FM999999999990.00'), to_char(q.quiet_since AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
        q.quiet_since, p_txn.created_at
    FROM bank.history h
    JOIN bank.accounts a ON a.id = h.account_id AND a.kind = 'customer' AND a.user_id IS NOT NULL
    CROSS JOIN LATERAL (
        SELECT coalesce((
            SELECT p.created_at FROM bank.history p
            WHERE p.account_id = h.account_id AND p.created_at <= h.created_at AND p.transaction_id <> p_txn.id
            ORDER BY p.created_at DESC LIMIT 1), a.created_at) AS quiet_since
    ) q
    WHERE h.transaction_id = p_txn.id AND h.amount < 0
      AND p_txn.created_at - q.quiet_since >= p_rule.time_window
    LIMIT 1;
END
$$;

REVOKE ALL ON FUNCTION bank.aml_dormant_reactivated(bank.aml_rules, bank.transactions) FROM PUBLIC;
