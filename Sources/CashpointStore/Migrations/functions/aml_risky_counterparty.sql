-- Transaction monitoring, rule kind 'risky_counterparty', after commit: an approved transfer of at least
-- `min_amount` between two customers, one of whom is risky: a sanctions screening hit, a rejected KYC,
-- or a risk rating at or above `min_rating` (medium or high; know your customer, 0023). The alert is
-- about the OTHER customer, the one dealing with the risky party (a transfer to a risky customer: its
-- sender; from one: its receiver); when both are risky, about the sender. The window dedupes: more
-- transfers with the same risky party within it join the same alert. One row or none.
-- bank.monitor calls it only for the postings the kind applies to (its detecting statement says which).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_risky_counterparty(p_rule bank.aml_rules, p_txn bank.transactions)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE plpgsql STABLE ROWS 1 SET search_path = pg_catalog, bank AS $$
#variable_conflict use_column
DECLARE
    v_min_rank int := CASE p_rule.parameters->>'min_rating' WHEN 'medium' THEN 2 ELSE 3 END;
BEGIN
    RETURN QUERY
    WITH sides AS (
        SELECT (h.amount < 0) AS sends, a.user_id, a.account_no, u.user_name,
            i.screening = 'hit' AS hit, i.status = 'rejected' AS rejected, i.risk_rating,
            i.screening_detail,
            coalesce(CASE i.risk_rating WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 END, 0) AS rank
        FROM bank.history h
        JOIN bank.accounts a ON a.id = h.account_id AND a.kind = 'customer'
        JOIN bank.users u ON u.id = a.user_id
        LEFT JOIN bank.customer_identities i ON i.user_id = a.user_id
        WHERE h.transaction_id = p_txn.id
    ), risky AS (
        SELECT s.*, coalesce(s.hit, false) OR coalesce(s.rejected, false) OR s.rank >= v_min_rank AS is_risky FROM sides s
    )
    SELECT 'customer:' || dealer.user_id, dealer.user_id, NULL::text, ARRAY[p_txn.id], p_txn.amount::bigint,
        CASE WHEN party.hit THEN 100.00 WHEN party.rejected THEN 90.00 ELSE 80.00 END::numeric,
        format('%s %s account %s (%s): %s', to_char(p_txn.amount / 100.0, 'FM999999999990.00'),
            CASE WHEN dealer.sends THEN 'sent to' ELSE 'received from' END, party.account_no, party.user_name,
            concat_ws('; ',
                CASE WHEN party.hit THEN 'sanctions screening hit' || coalesce(' (' || party.screening_detail || ')', '') END,
                CASE WHEN party.rejected THEN 'KYC rejected' END,
                CASE WHEN party.rank >= v_min_rank THEN 'risk ' || party.risk_rating END)),
        p_txn.created_at - p_rule.time_window, p_txn.created_at
    FROM risky party JOIN risky dealer ON dealer.sends <> party.sends AND dealer.user_id <> party.user_id
    WHERE party.is_risky AND (NOT dealer.is_risky OR dealer.sends)
    ORDER BY dealer.sends DESC
    LIMIT 1;
END
$$;

REVOKE ALL ON FUNCTION bank.aml_risky_counterparty(bank.aml_rules, bank.transactions) FROM PUBLIC;
