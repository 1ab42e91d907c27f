-- Transaction monitoring, rule kind 'pass_through', after commit: on the customer account p_account,
-- money in (deposits and transfers in, together at least `min_amount`) and at least `out_percent` % of
-- it out again (withdrawals and transfers out) within the rule's window from the first of those
-- inflows, in a window that meets the stretch from p_from to p_to (the first and last postings that
-- bank.monitor noted on the account in bank.monitoring_due; the stretch is shorter than the window, so
-- such a window holds one of them). Windows start at an inflow; each such is tried, the sums
-- as window aggregates in one pass over the account's lines (sums only: a moving max would be
-- quadratic). The best window (the most money in) or none. PL/pgSQL for its cached plans.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_pass_through(p_rule bank.aml_rules, p_account bigint, p_from timestamptz,
    p_to timestamptz)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE plpgsql STABLE ROWS 1 SET search_path = pg_catalog, bank AS $$
#variable_conflict use_column
DECLARE
    v_span interval := p_rule.time_window;
    v_min bigint := (p_rule.parameters->>'min_amount')::bigint;
    v_percent numeric := (p_rule.parameters->>'out_percent')::numeric;
BEGIN
    -- No window can hold more money in, or out, than the whole stretch around the postings: most
    -- accounts stop here (less money in than the minimum, or too little out to be 90% of it).
    IF NOT EXISTS (
        SELECT 1 FROM bank.history l
        WHERE l.account_id = p_account AND l.created_at BETWEEN p_from - v_span AND p_to + v_span
        HAVING coalesce(sum(l.amount) FILTER (WHERE l.amount > 0), 0) >= v_min
           AND coalesce(-sum(l.amount) FILTER (WHERE l.amount < 0), 0) * 100 >= v_min * v_percent
    ) THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH account AS (
        SELECT a.id, a.account_no, a.user_id FROM bank.accounts a
        WHERE a.id = p_account AND a.kind = 'customer' AND a.user_id IS NOT NULL
    ), lines AS (
        SELECT h.transaction_id AS txn, h.created_at AS at, h.amount AS moved
        FROM bank.history h
        WHERE h.account_id = p_account AND h.created_at BETWEEN p_from - v_span AND p_to + v_span
    ), sums AS (
        SELECT l.at, l.moved,
            sum(greatest(l.moved, 0)) OVER w AS money_in, sum(greatest(-l.moved, 0)) OVER w AS money_out
        FROM lines l
        WINDOW w AS (ORDER BY l.at RANGE BETWEEN CURRENT ROW AND v_span FOLLOWING)
    ), best AS (
        SELECT s.at, s.money_in::bigint AS money_in, s.money_out::bigint AS money_out
        FROM sums s
        WHERE s.moved > 0 AND s.at BETWEEN p_from - v_span AND p_to
          AND s.money_in >= v_min
          AND s.money_out * 100 >= s.money_in * v_percent
        ORDER BY s.money_in DESC, s.at
        LIMIT 1
    )
    SELECT 'customer:' || a.user_id, a.user_id, NULL::text,
        ARRAY(SELECT l.txn FROM lines l WHERE l.at BETWEEN b.at AND b.at + v_span ORDER BY l.at, l.txn),
        b.money_in, round(100.0 * b.money_out / b.money_in, 2),
        format('account %s: %s in, %s (%s%%) out again within %s', a.account_no,
            to_char(b.money_in / 100.0, 'FM999999999990.00'), to_char(b.money_out / 100.0, 'FM999999999990.00'),
            round(100.0 * b.money_out / b.money_in), justify_interval(v_span)),
        b.at, (SELECT max(l.at) FROM lines l WHERE l.at <= b.at + v_span)
    FROM best b CROSS JOIN account a;
END
$$;

REVOKE ALL ON FUNCTION bank.aml_pass_through(bank.aml_rules, bigint, timestamptz, timestamptz) FROM PUBLIC;
