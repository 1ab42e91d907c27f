-- The blocking monitoring rule, checked inside bank.post (response 59, "suspected fraud"): true when a
-- card withdrawal of p_amount would take the card over an enabled 'velocity' rule of the rules in force:
-- more than max_count approved withdrawals, or more than max_amount withdrawn, within the rule's window.
-- The card's row is locked first (FOR NO KEY UPDATE, after the accounts bank.post locked), so two
-- withdrawals with one card, even from two of its accounts, are counted one after the other: no race
-- lets both through. Nothing is read when monitoring is off or no velocity rule is enabled.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.velocity_refused(p_card_id bigint, p_amount bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
DECLARE
    v_rule record;
    v_locked boolean := false;
    v_count bigint;
    v_sum bigint;
BEGIN
    FOR v_rule IN
        SELECT r.time_window, (r.parameters->>'max_count')::bigint AS max_count,
            (r.parameters->>'max_amount')::bigint AS max_amount
        FROM bank.settings s JOIN bank.aml_rules r ON r.version = s.aml_rules_version
        WHERE s.monitoring_enabled AND r.kind = 'velocity' AND r.enabled
    LOOP
        IF NOT v_locked THEN
            PERFORM 1 FROM bank.cards c WHERE c.id = p_card_id FOR NO KEY UPDATE;
            v_locked := true;
        END IF;
        SELECT count(*), coalesce(sum(t.amount), 0) INTO v_count, v_sum
        FROM bank.transactions t
        WHERE t.card_id = p_card_id AND t.kind = 'withdrawal' AND t.card_id IS NOT NULL
          AND t.created_at > now() - v_rule.time_window AND t.response_code = '00';
        IF v_count + 1 > v_rule.max_count OR v_sum + p_amount > v_rule.max_amount THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;

REVOKE ALL ON FUNCTION bank.velocity_refused(bigint, bigint) FROM PUBLIC;
