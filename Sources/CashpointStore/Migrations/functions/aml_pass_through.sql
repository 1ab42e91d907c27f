-- Transaction monitoring, rule kind 'pass_through', after commit: on a customer account p_txn moved
-- money in or out of, money in (deposits and transfers in, together at least `min_amount`) and at least
-- `out_percent` % of it out again (withdrawals and transfers out) within the rule's window from the
-- first of those inflows. Windows start at an inflow; each that holds p_txn is tried, the sums as window
-- aggregates in one pass over the account's lines (sums only: a moving max would be quadratic). One row or none. PL/pgSQL for its cached plans.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_pass_through(p_rule bank.aml_rules, p_txn bank.transactions)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, bank AS $$
#variable_conflict use_column
DECLARE
    v_span interval := p_rule.time_window;
BEGIN
    IF p_txn.response_code <> '00' THEN
        RETURN;
    END IF;
    -- No window can hold more money in than the whole stretch around p_txn: most postings stop here.
    IF NOT EXISTS (
        SELECT 1 FROM bank.history h JOIN bank.accounts a ON a.id = h.account_id
        WHERE h.transaction_id = p_txn.id AND a.kind = 'customer' AND a.user_id IS NOT NULL
          AND (SELECT coalesce(sum(l.amount), 0) FROM bank.history l
               WHERE l.account_id = a.id AND l.amount > 0
                 AND l.created_at BETWEEN p_txn.created_at - v_span AND p_txn.created_at + v_span)
              >= (p_rule.parameters->>'min_amount')::bigint
    ) THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH accounts AS (
        SELECT a.id, a.account_no, a.user_id
        FROM bank.history h JOIN bank.accounts a ON a.id = h.account_id
        WHERE h.transaction_id = p_txn.id AND a.kind = 'customer' AND a.user_id IS NOT NULL
    ), lines AS (
        SELECT a.id AS account_id, h.transaction_id AS txn, h.created_at AS at, h.amount AS moved
        FROM accounts a JOIN bank.history h ON h.account_id = a.id
            AND h.created_at BETWEEN p_txn.created_at - v_span AND p_txn.created_at + v_span
    ), sums AS (
        SELECT l.account_id, l.at, l.moved,
            sum(greatest(l.moved, 0)) OVER w AS money_in, sum(greatest(-l.moved, 0)) OVER w AS money_out
        FROM lines l
        WINDOW w AS (PARTITION BY l.account_id ORDER BY l.at RANGE BETWEEN CURRENT ROW AND v_span FOLLOWING)
    ), best AS (
        SELECT s.account_id, s.at, s.money_in::bigint AS money_in, s.money_out::bigint AS money_out
        FROM sums s
        WHERE s.moved > 0 AND s.at BETWEEN p_txn.created_at - v_span AND p_txn.created_at
          AND s.money_in >= (p_rule.parameters->>'min_amount')::bigint
          AND s.money_out * 100 >= s.money_in * (p_rule.parameters->>'out_percent')::numeric
        ORDER BY s.money_in DESC, s.at
        LIMIT 1
    )
    SELECT 'customer:' || a.user_id, a.user_id, NULL::text,
        ARRAY(SELECT l.txn FROM lines l WHERE l.account_id = b.account_id AND l.at BETWEEN b.at AND b.at + v_span
            ORDER BY l.at, l.txn),
        b.money_in, round(100.0 * b.money_out / b.money_in, 2),
        format('account %s: %s in, %s (%s%%) out again within %s', a.account_no,
            to_char(b.money_in / 100.0, 'FM999999999990.00'), to_char(b.money_out / 100.0, 'FM999999999990.00'),
            round(100.0 * b.money_out / b.money_in), justify_interval(v_span)),
        b.at, (SELECT max(l.at) FROM lines l WHERE l.account_id = b.account_id AND l.at <= b.at + v_span)
    FROM best b JOIN accounts a ON a.id = b.account_id;
END
$$;

REVOKE ALL ON FUNCTION bank.aml_pass_through(bank.aml_rules, bank.transactions) FROM PUBLIC;
