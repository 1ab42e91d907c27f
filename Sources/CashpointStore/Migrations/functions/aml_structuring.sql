-- Transaction monitoring, rule kind 'structuring' (after commit, from bank.monitor): for the posting
-- p_txn, a cash deposit or withdrawal (the rule's `direction`) under the rule's `threshold`, the window
-- of the rule's length holding it in which the customer made at least `min_count` such movements, each
-- under the threshold, together above it. Approved movements only, a reversed one not counted; every
-- account of the customer counts. Windows start at a movement, so each window that holds p_txn is tried
-- (the movement that commits last sees the whole pattern). One row (the largest window) or none.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_structuring(p_rule bank.aml_rules, p_txn bank.transactions)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, bank AS $$
    WITH rule AS (
        SELECT p_rule.parameters->>'direction' AS direction, (p_rule.parameters->>'threshold')::bigint AS threshold,
            (p_rule.parameters->>'min_count')::int AS min_count, p_rule.time_window AS span
    ), owner AS (
        SELECT a.user_id FROM bank.accounts a, rule r
        WHERE a.id = p_txn.account_id AND a.kind = 'customer' AND a.user_id IS NOT NULL
          AND p_txn.kind = r.direction AND p_txn.response_code = '00' AND p_txn.amount < r.threshold
    ), moves AS (
        SELECT t.id, t.created_at AS at, t.amount
        FROM owner o
        JOIN bank.accounts a ON a.user_id = o.user_id AND a.kind = 'customer'
        CROSS JOIN rule r
        JOIN bank.history h ON h.account_id = a.id
            AND h.created_at BETWEEN p_txn.created_at - r.span AND p_txn.created_at + r.span
        JOIN bank.transactions t ON t.id = h.transaction_id AND t.account_id = a.id
        WHERE t.kind = r.direction AND t.response_code = '00' AND t.amount < r.threshold
          AND NOT EXISTS (SELECT 1 FROM bank.transactions v WHERE v.original_id = t.id AND v.kind = 'reversal')
    ), windows AS (
        SELECT s.at AS first_at, max(m.at) AS last_at, array_agg(m.id ORDER BY m.at, m.id) AS ids,
            sum(m.amount)::bigint AS total, count(*) AS n
        FROM moves s CROSS JOIN rule r JOIN moves m ON m.at BETWEEN s.at AND s.at + r.span
        WHERE s.at BETWEEN p_txn.created_at - r.span AND p_txn.created_at
        GROUP BY s.id, s.at
    )
    SELECT 'customer:' || o.user_id, o.user_id, NULL::text, w.ids, w.total,
        round(100.0 * w.total / r.threshold, 2),
        format('%s cash %ss, each under %s, together %s within %s', w.n, r.direction,
            to_char(r.threshold / 100.0, 'FM999999999990.00'), to_char(w.total / 100.0, 'FM999999999990.00'), justify_interval(r.span)),
        w.first_at, w.last_at
    FROM windows w, owner o, rule r
    WHERE w.n >= r.min_count AND w.total > r.threshold AND p_txn.created_at <= w.first_at + r.span
    ORDER BY w.total DESC, w.first_at
    LIMIT 1
$$;

REVOKE ALL ON FUNCTION bank.aml_structuring(bank.aml_rules, bank.transactions) FROM PUBLIC;
