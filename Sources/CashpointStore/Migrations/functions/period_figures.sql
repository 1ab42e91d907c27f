-- The figures of a period (docs/protocol.md, "Reconciliation"), as the 0500 carries them:
--   an approved withdrawal, deposit or transfer counts, unless its reversal in full is in the same
--   period (then neither counts: nothing happened);
--   an approved reversal that gave money back counts under its original's kind (credit reversals:
--   deposits; debit reversals: withdrawals), unless it is a reversal in full of an original in the same
--   period; reversals of transfers count nowhere (a transfer moves no cash);
--   net = deposits - reversed deposits - (withdrawals - reversed withdrawals): cash in minus cash out.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.period_figures(p_ids bigint[]) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, bank AS $$
    WITH p AS (
        SELECT t.id, t.kind::text AS kind, t.amount::bigint AS amount, t.response_code::text AS code, t.original_id
        FROM bank.transactions t WHERE t.id = ANY (p_ids)
    ), counted AS (
        SELECT o.kind, o.amount FROM p o
        WHERE o.kind IN ('withdrawal', 'deposit', 'transfer') AND o.code = '00'
          AND NOT EXISTS (SELECT 1 FROM p r WHERE r.kind = 'reversal' AND r.code = '00' AND r.original_id = o.id
                          AND r.amount = o.amount)
        UNION ALL
        SELECT CASE o.kind WHEN 'deposit' THEN 'credit_reversal' ELSE 'debit_reversal' END, r.amount
        FROM p r JOIN bank.transactions o ON o.id = r.original_id
        WHERE r.kind = 'reversal' AND r.code = '00' AND r.amount > 0 AND o.kind IN ('withdrawal', 'deposit')
          AND NOT (r.amount = o.amount AND o.id = ANY (p_ids))
    ), sums AS (
        SELECT
            count(*) FILTER (WHERE kind = 'deposit') AS credits,
            coalesce(sum(amount) FILTER (WHERE kind = 'deposit'), 0) AS credits_amount,
            count(*) FILTER (WHERE kind = 'credit_reversal') AS credit_reversals,
            coalesce(sum(amount) FILTER (WHERE kind = 'credit_reversal'), 0) AS credit_reversals_amount,
            count(*) FILTER (WHERE kind = 'withdrawal') AS debits,
            coalesce(sum(amount) FILTER (WHERE kind = 'withdrawal'), 0) AS debits_amount,
            count(*) FILTER (WHERE kind = 'debit_reversal') AS debit_reversals,
            coalesce(sum(amount) FILTER (WHERE kind = 'debit_reversal'), 0) AS debit_reversals_amount,
            count(*) FILTER (WHERE kind = 'transfer') AS transfers,
            coalesce(sum(amount) FILTER (WHERE kind = 'transfer'), 0) AS transfers_amount
        FROM counted
    )
    SELECT jsonb_build_object(
        'credits', s.credits, 'credits_amount', s.credits_amount,
        'credit_reversals', s.credit_reversals, 'credit_reversals_amount', s.credit_reversals_amount,
        'debits', s.debits, 'debits_amount', s.debits_amount,
        'debit_reversals', s.debit_reversals, 'debit_reversals_amount', s.debit_reversals_amount,
        'transfers', s.transfers, 'transfers_amount', s.transfers_amount,
        'net', s.credits_amount - s.credit_reversals_amount - (s.debits_amount - s.debit_reversals_amount))
    FROM sums s
$$;

REVOKE ALL ON FUNCTION bank.period_figures(bigint[]) FROM PUBLIC;
