-- A desk withdrawal or deposit above the four-eyes table's amount needs an approved change
-- (bank.require_approved_change), whose target is the account and the amount: ACCOUNT|AMOUNT.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.require_desk_approval(p_kind text, p_amount bigint, p_account text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
DECLARE
    v_above bigint;
BEGIN
    SELECT h.above_amount INTO v_above FROM bank.high_risk_operations h WHERE h.operation = 'desk.' || p_kind;
    IF FOUND AND (v_above IS NULL OR p_amount > v_above) THEN
        PERFORM bank.require_approved_change('desk.' || p_kind, p_account || '|' || p_amount);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION bank.require_desk_approval(text, bigint, text) FROM PUBLIC;
