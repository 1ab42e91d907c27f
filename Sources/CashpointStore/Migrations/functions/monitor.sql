-- One round of the switch's monitoring worker: up to p_limit postings taken from bank.monitoring_queue
-- (oldest first; FOR UPDATE SKIP LOCKED, so several switches share the queue and each row is examined
-- by one), each examined by every enabled rule of the rules in force except the blocking ones, which
-- bank.post applied (a velocity rule only attributes a 59 refusal), and what they find raised as alerts
-- (bank.raise_alert). The rows leave the queue in the same transaction: a round that fails leaves them
-- for the next. With monitoring off or no rules loaded, the rows are dropped unexamined. Answers how many
-- postings were examined, how many new alerts were raised and how many rows are still queued.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.monitor(p_limit int)
RETURNS TABLE (examined int, alerts int, remaining bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_txn bank.transactions%ROWTYPE;
    v_rule bank.aml_rules%ROWTYPE;
    v_hit record;
    v_alert record;
    v_version int;
BEGIN
    -- Accounts, cards and lines are read under forced row-level security: the system context sees them.
    PERFORM set_config('cashpoint.role', 'system', true), set_config('cashpoint.user_id', '', true);
    SELECT CASE WHEN s.monitoring_enabled THEN s.aml_rules_version END INTO v_version FROM bank.settings s;
    examined := 0;
    alerts := 0;
    FOR v_txn IN
        WITH taken AS (
            DELETE FROM bank.monitoring_queue q
            WHERE q.transaction_id IN (
                SELECT k.transaction_id FROM bank.monitoring_queue k
                ORDER BY k.queued_at, k.transaction_id
                LIMIT least(greatest(p_limit, 1), 10000)
                FOR UPDATE SKIP LOCKED)
            RETURNING q.transaction_id
        )
        SELECT t.* FROM taken k JOIN bank.transactions t ON t.id = k.transaction_id ORDER BY t.created_at, t.id
    LOOP
        examined := examined + 1;
        CONTINUE WHEN v_version IS NULL;
        FOR v_rule IN
            SELECT * FROM bank.aml_rules r
            WHERE r.version = v_version AND r.enabled AND (r.kind <> 'velocity' OR v_txn.response_code = '59')
            ORDER BY r.rule_id
        LOOP
            FOR v_hit IN SELECT * FROM bank.aml_detect(v_rule, v_txn) LOOP
                SELECT * INTO v_alert FROM bank.raise_alert(v_rule, v_hit.subject, v_hit.customer_id, v_hit.terminal_id,
                    v_hit.transaction_ids, v_hit.amount, v_hit.score, v_hit.detail, v_hit.window_start, v_hit.window_end);
                IF v_alert.is_new THEN alerts := alerts + 1; END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    SELECT count(*) INTO remaining FROM bank.monitoring_queue;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION bank.monitor(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.monitor(int) TO cashpoint_switch;
