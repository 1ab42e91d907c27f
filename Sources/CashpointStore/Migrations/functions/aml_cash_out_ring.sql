-- Transaction monitoring, rule kind 'cash_out_ring', after commit: for an approved card withdrawal
-- p_txn, at least `min_cards` distinct cards withdrawing at its terminal within the rule's window. The
-- windows tried are those ending at a withdrawal at or after p_txn (and so holding it): usually p_txn
-- itself; later ones when the worker runs behind or commits came out of order. One row or none. PL/pgSQL for its cached plans.
-- bank.monitor calls it only for the postings the kind applies to (its detecting statement says which).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_cash_out_ring(p_rule bank.aml_rules, p_txn bank.transactions)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE plpgsql STABLE ROWS 1 SET search_path = pg_catalog, bank AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH ends AS (
        SELECT DISTINCT t.created_at AS end_at
        FROM bank.transactions t
        WHERE t.terminal_id = p_txn.terminal_id AND t.kind = 'withdrawal' AND t.response_code = '00'
          AND t.card_id IS NOT NULL
          AND t.created_at BETWEEN p_txn.created_at AND p_txn.created_at + p_rule.time_window
    ), windows AS (
        SELECT e.end_at, w.cards, w.ids, w.total, w.first_at
        FROM ends e CROSS JOIN LATERAL (
            SELECT count(DISTINCT t.card_id) AS cards, array_agg(t.id ORDER BY t.created_at, t.id) AS ids,
                sum(t.amount)::bigint AS total, min(t.created_at) AS first_at
            FROM bank.transactions t
            WHERE t.terminal_id = p_txn.terminal_id AND t.kind = 'withdrawal' AND t.response_code = '00'
              AND t.card_id IS NOT NULL AND t.created_at BETWEEN e.end_at - p_rule.time_window AND e.end_at
        ) w
    )
    SELECT 'terminal:' || p_txn.terminal_id, NULL::bigint, p_txn.terminal_id, w.ids, w.total,
        round(100.0 * w.cards / (p_rule.parameters->>'min_cards')::int, 2),
        format('%s cards withdrew %s at terminal %s within %s', w.cards, to_char(w.total / 100.0, 'FM999999999990.00'),
            p_txn.terminal_id, justify_interval(p_rule.time_window)),
        w.first_at, w.end_at
    FROM windows w
    WHERE p_txn.kind = 'withdrawal' AND p_txn.response_code = '00' AND p_txn.card_id IS NOT NULL
      AND w.cards >= (p_rule.parameters->>'min_cards')::int
    ORDER BY w.cards DESC, w.end_at
    LIMIT 1;
END
$$;

REVOKE ALL ON FUNCTION bank.aml_cash_out_ring(bank.aml_rules, bank.transactions) FROM PUBLIC;
