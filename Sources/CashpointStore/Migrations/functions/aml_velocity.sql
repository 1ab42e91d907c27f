-- Transaction monitoring, rule kind 'velocity', after commit: the alert for a card withdrawal that
-- bank.post refused 59 (bank.velocity_refused, the same rule) because it would have taken the card over
-- `max_count` withdrawals or `max_amount` withdrawn within the rule's window. One row or none.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_velocity(p_rule bank.aml_rules, p_txn bank.transactions)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE sql STABLE ROWS 1 SET search_path = pg_catalog, bank AS $$
    WITH prior AS (
        SELECT count(*) AS n, coalesce(sum(t.amount), 0)::bigint AS total,
            coalesce(array_agg(t.id ORDER BY t.created_at, t.id), '{}') AS ids, min(t.created_at) AS first_at
        FROM bank.transactions t
        WHERE t.card_id = p_txn.card_id AND t.kind = 'withdrawal' AND t.card_id IS NOT NULL
          AND t.response_code = '00' AND t.id <> p_txn.id
          AND t.created_at > p_txn.created_at - p_rule.time_window AND t.created_at <= p_txn.created_at
    )
    SELECT 'customer:' || c.user_id, c.user_id, p_txn.terminal_id, p.ids || p_txn.id, p.total + p_txn.amount,
        round(100.0 * greatest(
            (p.n + 1)::numeric / nullif((p_rule.parameters->>'max_count')::bigint, 0),
            (p.total + p_txn.amount)::numeric / nullif((p_rule.parameters->>'max_amount')::bigint, 0)), 2),
        format('card %s: withdrawal of %s refused (59) after %s withdrawals of %s within %s', c.pan_masked,
            to_char(p_txn.amount / 100.0, 'FM999999999990.00'), p.n, to_char(p.total / 100.0, 'FM999999999990.00'),
            justify_interval(p_rule.time_window)),
        coalesce(p.first_at, p_txn.created_at), p_txn.created_at
    FROM prior p JOIN bank.cards c ON c.id = p_txn.card_id
    WHERE p_txn.kind = 'withdrawal' AND p_txn.response_code = '59'
      AND (p.n + 1 > (p_rule.parameters->>'max_count')::bigint
        OR p.total + p_txn.amount > (p_rule.parameters->>'max_amount')::bigint)
$$;

REVOKE ALL ON FUNCTION bank.aml_velocity(bank.aml_rules, bank.transactions) FROM PUBLIC;
