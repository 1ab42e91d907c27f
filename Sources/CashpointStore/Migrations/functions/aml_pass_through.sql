-- Transaction monitoring, rule kind 'pass_through', after commit: on a customer account p_txn moved
-- money in or out of, money in (deposits and transfers in, together at least `min_amount`) and at least
-- `out_percent` % of it out again (withdrawals and transfers out) within the rule's window from the
-- first of those inflows. Windows start at an inflow; each that holds p_txn is tried. One row or none.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_pass_through(p_rule bank.aml_rules, p_txn bank.transactions)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, bank AS $$
    WITH accounts AS (
        SELECT a.id, a.account_no, a.user_id
        FROM bank.history h JOIN bank.accounts a ON a.id = h.account_id
        WHERE h.transaction_id = p_txn.id AND a.kind = 'customer' AND a.user_id IS NOT NULL
    ), lines AS (
        SELECT a.id AS account_id, h.transaction_id, h.created_at AS at, h.amount
        FROM accounts a JOIN bank.history h ON h.account_id = a.id
            AND h.created_at BETWEEN p_txn.created_at - p_rule.time_window AND p_txn.created_at + p_rule.time_window
    ), windows AS (
        SELECT s.account_id, s.at AS first_at, max(l.at) AS last_at,
            sum(l.amount) FILTER (WHERE l.amount > 0)::bigint AS money_in,
            coalesce(-sum(l.amount) FILTER (WHERE l.amount < 0), 0)::bigint AS money_out,
            array_agg(l.transaction_id ORDER BY l.at, l.transaction_id) AS ids
        FROM lines s JOIN lines l ON l.account_id = s.account_id AND l.at BETWEEN s.at AND s.at + p_rule.time_window
        WHERE s.amount > 0 AND s.at BETWEEN p_txn.created_at - p_rule.time_window AND p_txn.created_at
        GROUP BY s.account_id, s.transaction_id, s.at
    )
    SELECT 'customer:' || a.user_id, a.user_id, NULL::text, w.ids, w.money_in,
        round(100.0 * w.money_out / w.money_in, 2),
        format('account %s: %s in, %s (%s%%) out again within %s', a.account_no,
            to_char(w.money_in / 100.0, 'FM999999999990.00'), to_char(w.money_out / 100.0, 'FM999999999990.00'),
            round(100.0 * w.money_out / w.money_in), justify_interval(p_rule.time_window)),
        w.first_at, w.last_at
    FROM windows w JOIN accounts a ON a.id = w.account_id
    WHERE w.money_in >= (p_rule.parameters->>'min_amount')::bigint
      AND w.money_out * 100 >= w.money_in * (p_rule.parameters->>'out_percent')::numeric
      AND p_txn.created_at <= w.first_at + p_rule.time_window
    ORDER BY w.money_in DESC, w.first_at
    LIMIT 1
$$;

REVOKE ALL ON FUNCTION bank.aml_pass_through(bank.aml_rules, bank.transactions) FROM PUBLIC;
