-- 0015 (issue 12): end-of-day reconciliation (0500/0510): the figures of a terminal's period, compared
-- with the terminal's, and the cutover that closes the period.
--
-- Redefines no function. New: tables bank.cutovers and bank.cutover_transactions; functions
-- bank.period_figures and bank.reconcile.
SET LOCAL ROLE cashpoint_owner;

-- Reconciliation. A cutover closes a terminal's period: which of its transactions the period held is
--    recorded one row per transaction (bank.cutover_transactions), not as an id range, because
--    transaction ids are handed out in cached blocks per database session (CACHE 32) and so do not
--    follow commit order: a transaction committed after a cutover may carry a lower id than one before
--    it. last_transaction_id is the highest id of the period, for people. Each transaction belongs to
--    at most one period (the primary key); the next period holds the terminal's transactions that are
--    in none. A transaction in flight at the cutover is not committed yet, so it falls in the next.
CREATE TABLE bank.cutovers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    terminal_id text NOT NULL,
    stan bank.stan NOT NULL,
    transmitted bank.transmission_time NOT NULL,
    request_digest bytea NOT NULL,
    settlement_date text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_transaction_id bigint,
    transaction_count int NOT NULL,
    response_code bank.response_code NOT NULL,
    terminal_figures jsonb NOT NULL,
    switch_figures jsonb NOT NULL,
    -- The cash the ledger says the terminal holds at the cutover (minus its cash account's balance).
    cash_held bigint NOT NULL,
    actor text NOT NULL,
    CONSTRAINT cutovers_key UNIQUE (terminal_id, stan, transmitted)
);
CREATE TABLE bank.cutover_transactions (
    transaction_id bigint PRIMARY KEY,
    cutover_id bigint NOT NULL REFERENCES bank.cutovers (id)
);
CREATE INDEX cutover_transactions_cutover ON bank.cutover_transactions (cutover_id);
CREATE TRIGGER cutovers_append_only BEFORE UPDATE OR DELETE ON bank.cutovers
    FOR EACH ROW EXECUTE FUNCTION bank.refuse_change();
CREATE TRIGGER cutovers_no_truncate BEFORE TRUNCATE ON bank.cutovers
    FOR EACH STATEMENT EXECUTE FUNCTION bank.refuse_change();
CREATE TRIGGER cutover_transactions_append_only BEFORE UPDATE OR DELETE ON bank.cutover_transactions
    FOR EACH ROW EXECUTE FUNCTION bank.refuse_change();
CREATE TRIGGER cutover_transactions_no_truncate BEFORE TRUNCATE ON bank.cutover_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION bank.refuse_change();

-- The figures of a period (docs/protocol.md, "Reconciliation"), as the 0500 carries them:
--   an approved withdrawal, deposit or transfer counts, unless its reversal in full is in the same
--   period (then neither counts: nothing happened);
--   an approved reversal that gave money back counts under its original's kind (credit reversals:
--   deposits; debit reversals: withdrawals), unless it is a reversal in full of an original in the same
--   period; reversals of transfers count nowhere (a transfer moves no cash);
--   net = deposits - reversed deposits - (withdrawals - reversed withdrawals): cash in minus cash out.
CREATE FUNCTION bank.period_figures(p_ids bigint[]) RETURNS jsonb
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

-- A 0500: the switch's figures for the terminal's period since its last cutover, compared with the
-- terminal's (equal as JSON objects: 00, else 95), the cutover recorded and audited
-- (reconcile.balanced / reconcile.difference, both sides' figures in the details), all in one
-- transaction. One cutover per terminal at a time (an advisory lock). A repeat (same terminal, STAN,
-- transmission time and content) gets the stored answer and cuts over nothing; other content 94.
CREATE FUNCTION bank.reconcile(
    p_actor text, p_ip text, p_device text, p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_settlement_date text, p_terminal_figures jsonb
) RETURNS TABLE (response_code text, switch_figures jsonb, cash_held bigint, cutover_id bigint, replayed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
#variable_conflict use_variable
DECLARE
    v_cash_id bigint;
    v_existing record;
    v_ids bigint[];
    v_cash bigint;
    v_figures jsonb;
    v_code text;
    v_id bigint;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT t.cash_account_id INTO v_cash_id FROM bank.terminals t WHERE t.id = p_terminal;
    IF v_cash_id IS NULL THEN
        RAISE EXCEPTION 'no terminal %', p_terminal USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM pg_advisory_xact_lock(7244, hashtext(p_terminal));

    SELECT c.id, c.request_digest, c.response_code, c.switch_figures, c.cash_held INTO v_existing
    FROM bank.cutovers c WHERE c.terminal_id = p_terminal AND c.stan = p_stan AND c.transmitted = p_transmitted;
    IF FOUND THEN
        IF v_existing.request_digest = p_digest THEN
            PERFORM bank.audit(p_actor,
                CASE WHEN v_existing.response_code = '00' THEN 'reconcile.balanced' ELSE 'reconcile.difference' END,
                v_existing.response_code,
                jsonb_build_object('replay_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            RETURN QUERY SELECT v_existing.response_code::text, v_existing.switch_figures, v_existing.cash_held,
                v_existing.id, true;
        ELSE
            PERFORM bank.audit(p_actor, 'reconcile.difference', '94',
                jsonb_build_object('duplicate_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan,
                    'reason', 'same key, different content'), p_ip, p_device);
            RETURN QUERY SELECT '94'::text, NULL::jsonb, NULL::bigint, v_existing.id, false;
        END IF;
        RETURN;
    END IF;

    -- The period and the cash balance in one statement, so in one snapshot.
    SELECT coalesce((SELECT array_agg(t.id ORDER BY t.id) FROM bank.transactions t
                     WHERE t.terminal_id = p_terminal
                       AND NOT EXISTS (SELECT 1 FROM bank.cutover_transactions c WHERE c.transaction_id = t.id)), '{}'),
           (SELECT -a.balance FROM bank.accounts a WHERE a.id = v_cash_id)
    INTO v_ids, v_cash;
    v_figures := bank.period_figures(v_ids);
    v_code := CASE WHEN v_figures = p_terminal_figures THEN '00' ELSE '95' END;

    INSERT INTO bank.cutovers AS c (terminal_id, stan, transmitted, request_digest, settlement_date,
        last_transaction_id, transaction_count, response_code, terminal_figures, switch_figures, cash_held, actor)
    VALUES (p_terminal, p_stan, p_transmitted, p_digest, p_settlement_date,
        (SELECT max(x) FROM unnest(v_ids) x), cardinality(v_ids), v_code, p_terminal_figures, v_figures, v_cash, p_actor)
    RETURNING c.id INTO v_id;
    INSERT INTO bank.cutover_transactions (transaction_id, cutover_id) SELECT x, v_id FROM unnest(v_ids) x;
    PERFORM bank.audit(p_actor, CASE WHEN v_code = '00' THEN 'reconcile.balanced' ELSE 'reconcile.difference' END,
        v_code,
        jsonb_build_object('cutover', v_id, 'terminal', p_terminal, 'stan', p_stan,
            'settlement_date', p_settlement_date, 'transactions', cardinality(v_ids),
            'last_transaction', (SELECT max(x) FROM unnest(v_ids) x), 'cash_held', v_cash,
            'terminal_figures', p_terminal_figures, 'switch_figures', v_figures),
        p_ip, p_device);
    RETURN QUERY SELECT v_code, v_figures, v_cash, v_id, false;
END
$$;

REVOKE ALL ON FUNCTION bank.period_figures(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.reconcile(text, text, text, text, text, text, bytea, text, jsonb) TO cashpoint_switch;
GRANT SELECT ON bank.cutovers, bank.cutover_transactions TO cashpoint_switch;
