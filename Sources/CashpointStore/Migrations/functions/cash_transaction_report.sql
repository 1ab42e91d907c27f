-- The daily cash transaction report: every customer whose cash in (ATM and desk deposits) or cash out
-- (withdrawals) on p_day (UTC) reaches bank.settings.cash_report_threshold, with both totals and
-- counts, the accounts and the transactions. Approved movements, a reversed one not counted. Roles:
-- compliance and 'system' (`atm-switch report ctr`). Audited.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.cash_transaction_report(p_role text, p_actor text, p_ip text, p_device text, p_day date)
RETURNS TABLE (customer_id bigint, user_name text, full_name text, accounts text, cash_in bigint, deposits int,
    cash_out bigint, withdrawals int, first_at timestamptz, last_at timestamptz, transaction_ids bigint[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_threshold bigint;
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['compliance', 'system']);
    IF p_day IS NULL THEN
        RAISE EXCEPTION 'the report needs a day' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT s.cash_report_threshold INTO v_threshold FROM bank.settings s;
    PERFORM set_config('cashpoint.role', 'system', true);
    RETURN QUERY
    WITH cash AS (
        SELECT u.id AS customer_id, u.user_name, u.full_name, a.account_no, t.id, t.kind, t.amount, t.created_at
        FROM bank.transactions t
        JOIN bank.accounts a ON a.id = t.account_id AND a.kind = 'customer'
        JOIN bank.users u ON u.id = a.user_id
        WHERE t.kind IN ('deposit', 'withdrawal') AND t.response_code = '00'
          AND t.created_at >= (p_day::timestamp AT TIME ZONE 'UTC')
          AND t.created_at < ((p_day + 1)::timestamp AT TIME ZONE 'UTC')
          AND NOT EXISTS (SELECT 1 FROM bank.transactions r WHERE r.original_id = t.id AND r.kind = 'reversal')
    )
    SELECT c.customer_id, c.user_name, c.full_name, string_agg(DISTINCT c.account_no, ' ' ORDER BY c.account_no),
        coalesce(sum(c.amount) FILTER (WHERE c.kind = 'deposit'), 0)::bigint,
        count(*) FILTER (WHERE c.kind = 'deposit')::int,
        coalesce(sum(c.amount) FILTER (WHERE c.kind = 'withdrawal'), 0)::bigint,
        count(*) FILTER (WHERE c.kind = 'withdrawal')::int,
        min(c.created_at), max(c.created_at), array_agg(c.id ORDER BY c.created_at, c.id)
    FROM cash c
    GROUP BY c.customer_id, c.user_name, c.full_name
    HAVING coalesce(sum(c.amount) FILTER (WHERE c.kind = 'deposit'), 0) >= v_threshold
        OR coalesce(sum(c.amount) FILTER (WHERE c.kind = 'withdrawal'), 0) >= v_threshold
    ORDER BY c.user_name;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM set_config('cashpoint.role', p_role, true);
    PERFORM bank.audit(p_actor, 'report.ctr', '00', jsonb_build_object('day', p_day, 'customers', v_count), p_ip, p_device);
END
$$;

REVOKE ALL ON FUNCTION bank.cash_transaction_report(text, text, text, text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.cash_transaction_report(text, text, text, text, date) TO cashpoint_switch;
