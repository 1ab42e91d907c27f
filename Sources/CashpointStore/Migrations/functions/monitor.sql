-- One round of the switch's monitoring worker: up to p_limit postings taken from bank.monitoring_queue
-- (oldest first; FOR UPDATE SKIP LOCKED, so several switches share the queue and each row is examined
-- by one), each examined by every enabled rule of the rules in force (its kind's detector, bank.aml_<kind>,
-- called here, for the whole round in one statement) except the blocking ones, which
-- bank.post applied (a velocity rule only attributes a 59 refusal), and what they find raised as alerts
-- (bank.raise_alert). The pass-through rules examine accounts instead: each customer account a posting
-- moved money on is noted in bank.monitoring_due (the earliest and latest posting, due
-- `monitoring_account_delay` after it was first noted), and the round then examines the accounts that
-- are due (as many as postings it may take, SKIP LOCKED too), each once over every posting noted.
-- The rows leave the queue in the same transaction: a round that fails leaves them for the next. With
-- monitoring off or no rules loaded, the rows are dropped unexamined (and nothing is noted). Answers how
-- many postings were examined, how many new alerts were raised and how many rows are still queued.
-- JIT is off for the round: the detectors' estimates multiply over a round's postings and rules, and
-- compiling the plan (0.7 s measured on 2,000 postings) would cost more than running it (0.1 s).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.monitor(p_limit int)
RETURNS TABLE (examined int, alerts int, remaining bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank SET jit = off AS $$
DECLARE
    v_limit int := least(greatest(p_limit, 1), 10000);
    v_taken bigint[];
    v_found record;
    v_rule bank.aml_rules%ROWTYPE;
    v_rules bank.aml_rules[];
    v_accounts text[];
    v_due bank.monitoring_due%ROWTYPE;
    v_hit record;
    v_alert record;
    v_version int;
    v_delay interval;
BEGIN
    -- Accounts, cards and lines are read under forced row-level security: the system context sees them.
    PERFORM set_config('cashpoint.role', 'system', true), set_config('cashpoint.user_id', '', true);
    SELECT CASE WHEN s.monitoring_enabled THEN s.aml_rules_version END, s.monitoring_account_delay
    INTO v_version, v_delay FROM bank.settings s;
    SELECT coalesce(array_agg(r ORDER BY r.rule_id), '{}') INTO v_rules
    FROM bank.aml_rules r WHERE r.version = v_version AND r.enabled AND r.kind <> 'pass_through';
    SELECT coalesce(array_agg(r.rule_id ORDER BY r.rule_id), '{}') INTO v_accounts
    FROM bank.aml_rules r WHERE r.version = v_version AND r.enabled AND r.kind = 'pass_through';
    alerts := 0;
    WITH taken AS (
        DELETE FROM bank.monitoring_queue q
        WHERE q.transaction_id IN (
            SELECT k.transaction_id FROM bank.monitoring_queue k
            ORDER BY k.queued_at, k.transaction_id
            LIMIT v_limit
            FOR UPDATE SKIP LOCKED)
        RETURNING q.transaction_id
    )
    SELECT coalesce(array_agg(k.transaction_id), '{}') INTO v_taken FROM taken k;
    examined := cardinality(v_taken);
    IF v_version IS NOT NULL AND cardinality(v_rules) > 0 THEN
        -- Every rule on every posting taken, as one statement: each kind's detector (bank.aml_<kind>,
        -- at most one row) is called only for its own rules and only for the postings the kind applies
        -- to (each branch's condition, a one-time filter: no call at all for the others), by the
        -- executor rather than one PL/pgSQL statement per rule and posting. A new kind adds its
        -- detector and a branch here (and to bank.aml_rules' kind check).
        FOR v_found IN
            SELECT r AS rule, d AS hit
            FROM bank.transactions t CROSS JOIN unnest(v_rules) r
            CROSS JOIN LATERAL (
                -- A cash movement of the rule's direction under its threshold.
                SELECT * FROM bank.aml_structuring(r, t)
                WHERE r.kind = 'structuring' AND t.response_code = '00' AND t.kind = r.parameters->>'direction'
                  AND t.amount < (r.parameters->>'threshold')::bigint
                UNION ALL
                -- A withdrawal the velocity check refused (bank.post applied the rule).
                SELECT * FROM bank.aml_velocity(r, t) WHERE r.kind = 'velocity' AND t.response_code = '59'
                UNION ALL
                -- A card withdrawal.
                SELECT * FROM bank.aml_cash_out_ring(r, t)
                WHERE r.kind = 'cash_out_ring' AND t.response_code = '00' AND t.kind = 'withdrawal'
                  AND t.card_id IS NOT NULL
                UNION ALL
                -- A withdrawal or transfer out above the rule's minimum.
                SELECT * FROM bank.aml_dormant_reactivated(r, t)
                WHERE r.kind = 'dormant_reactivated' AND t.response_code = '00'
                  AND t.kind IN ('withdrawal', 'transfer') AND t.amount > (r.parameters->>'min_amount')::bigint
                UNION ALL
                -- A transfer of at least the rule's minimum.
                SELECT * FROM bank.aml_risky_counterparty(r, t)
                WHERE r.kind = 'risky_counterparty' AND t.response_code = '00' AND t.kind = 'transfer'
                  AND t.amount >= (r.parameters->>'min_amount')::bigint
            ) d
            WHERE t.id = ANY (v_taken)
            ORDER BY t.created_at, t.id, r.rule_id
        LOOP
            v_rule := v_found.rule;
            v_hit := v_found.hit;
            SELECT * INTO v_alert FROM bank.raise_alert(v_rule, v_hit.subject, v_hit.customer_id,
                v_hit.terminal_id, v_hit.transaction_ids, v_hit.amount, v_hit.score, v_hit.detail,
                v_hit.window_start, v_hit.window_end);
            IF v_alert.is_new THEN alerts := alerts + 1; END IF;
        END LOOP;
    END IF;
    -- The customer accounts the approved postings moved money on (only they have lines), noted once
    -- per rule and account for the whole round.
    IF v_version IS NOT NULL AND cardinality(v_accounts) > 0 THEN
        INSERT INTO bank.monitoring_due AS d (rule_id, account_id, first_at, last_at, due_at)
        SELECT r.rule_id, h.account_id, min(h.created_at), max(h.created_at), now() + v_delay
        FROM bank.history h JOIN bank.accounts a ON a.id = h.account_id
        CROSS JOIN unnest(v_accounts) r (rule_id)
        WHERE h.transaction_id = ANY (v_taken) AND a.kind = 'customer' AND a.user_id IS NOT NULL
        GROUP BY r.rule_id, h.account_id
        ON CONFLICT (rule_id, account_id) DO UPDATE
        SET first_at = least(d.first_at, excluded.first_at), last_at = greatest(d.last_at, excluded.last_at);
    END IF;
    -- The accounts that are due: each examined once, over the stretch of postings noted on it.
    FOR v_due IN
        DELETE FROM bank.monitoring_due d
        WHERE (d.rule_id, d.account_id) IN (
            SELECT k.rule_id, k.account_id FROM bank.monitoring_due k
            WHERE k.due_at <= now()
            ORDER BY k.due_at
            LIMIT v_limit
            FOR UPDATE SKIP LOCKED)
        RETURNING d.*
    LOOP
        SELECT * INTO v_rule FROM bank.aml_rules r
        WHERE r.version = v_version AND r.enabled AND r.kind = 'pass_through' AND r.rule_id = v_due.rule_id;
        CONTINUE WHEN NOT FOUND;
        FOR v_hit IN SELECT * FROM bank.aml_pass_through(v_rule, v_due.account_id, v_due.first_at, v_due.last_at) LOOP
            SELECT * INTO v_alert FROM bank.raise_alert(v_rule, v_hit.subject, v_hit.customer_id, v_hit.terminal_id,
                v_hit.transaction_ids, v_hit.amount, v_hit.score, v_hit.detail, v_hit.window_start, v_hit.window_end);
            IF v_alert.is_new THEN alerts := alerts + 1; END IF;
        END LOOP;
    END LOOP;
    SELECT count(*) INTO remaining FROM bank.monitoring_queue;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION bank.monitor(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.monitor(int) TO cashpoint_switch;
