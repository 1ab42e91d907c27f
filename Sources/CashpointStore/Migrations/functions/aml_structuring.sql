-- Transaction monitoring, rule kind 'structuring' (after commit, from bank.monitor): for the posting
-- p_txn, a cash deposit or withdrawal (the rule's `direction`) under the rule's `threshold`, the window
-- of the rule's length holding it in which the customer made at least `min_count` such movements, each
-- under the threshold, together above it. Approved movements only, a reversed one not counted; every
-- account of the customer counts. Windows start at a movement, so each window that holds p_txn is tried
-- (the movement that commits last sees the whole pattern); the sums run as window aggregates, in one
-- pass over the movements. One row (the largest window) or none. PL/pgSQL for its cached plans.
-- bank.monitor calls it only for the postings the kind applies to (its detecting statement says which).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_structuring(p_rule bank.aml_rules, p_txn bank.transactions)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE plpgsql STABLE ROWS 1 SET search_path = pg_catalog, bank AS $$
#variable_conflict use_column
DECLARE
    v_direction text := p_rule.parameters->>'direction';
    v_threshold bigint := (p_rule.parameters->>'threshold')::bigint;
    v_span interval := p_rule.time_window;
    v_owner bigint;
BEGIN
    SELECT a.user_id INTO v_owner FROM bank.accounts a WHERE a.id = p_txn.account_id AND a.kind = 'customer';
    IF v_owner IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH moves AS (
        SELECT t.id, t.created_at AS at, t.amount AS moved
        FROM bank.accounts a
        JOIN bank.history h ON h.account_id = a.id
            AND h.created_at BETWEEN p_txn.created_at - v_span AND p_txn.created_at + v_span
        JOIN bank.transactions t ON t.id = h.transaction_id AND t.account_id = a.id
        WHERE a.user_id = v_owner AND a.kind = 'customer'
          AND t.kind = v_direction AND t.response_code = '00' AND t.amount < v_threshold
          AND NOT EXISTS (SELECT 1 FROM bank.transactions v WHERE v.original_id = t.id AND v.kind = 'reversal')
    ), sums AS (
        SELECT m.at, sum(m.moved) OVER w AS total, count(*) OVER w AS n
        FROM moves m
        WINDOW w AS (ORDER BY m.at RANGE BETWEEN CURRENT ROW AND v_span FOLLOWING)
    ), best AS (
        SELECT s.at, s.total, s.n FROM sums s
        WHERE s.at BETWEEN p_txn.created_at - v_span AND p_txn.created_at
          AND s.n >= (p_rule.parameters->>'min_count')::int AND s.total > v_threshold
        ORDER BY s.total DESC, s.at
        LIMIT 1
    )
    SELECT 'customer:' || v_owner, v_owner, NULL::text,
        ARRAY(SELECT m.id FROM moves m WHERE m.at BETWEEN b.at AND b.at + v_span ORDER BY m.at, m.id),
        b.total::bigint, round(100.0 * b.total / v_threshold, 2),
        format('%s cash %ss, each under %s, together %s within %s', b.n, v_direction,
            to_char(v_threshold / 100.0, 'FM999999999990.00'), to_char(b.total / 100.0, 'FM999999999990.00'),
            justify_interval(v_span)),
        b.at, (SELECT max(m.at) FROM moves m WHERE m.at <= b.at + v_span)
    FROM best b;
END
$$;

REVOKE ALL ON FUNCTION bank.aml_structuring(bank.aml_rules, bank.transactions) FROM PUBLIC;
