-- What one monitoring rule finds for one posting: the kind's detector (bank.aml_<kind>), at most one
-- row. A new kind adds its detector and a branch here (and to bank.aml_rules' kind check).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.aml_detect(p_rule bank.aml_rules, p_txn bank.transactions)
RETURNS TABLE (subject text, customer_id bigint, terminal_id text, transaction_ids bigint[], amount bigint,
    score numeric, detail text, window_start timestamptz, window_end timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, bank AS $$
BEGIN
    CASE p_rule.kind
    WHEN 'structuring' THEN RETURN QUERY SELECT * FROM bank.aml_structuring(p_rule, p_txn);
    WHEN 'velocity' THEN RETURN QUERY SELECT * FROM bank.aml_velocity(p_rule, p_txn);
    WHEN 'cash_out_ring' THEN RETURN QUERY SELECT * FROM bank.aml_cash_out_ring(p_rule, p_txn);
    WHEN 'pass_through' THEN RETURN QUERY SELECT * FROM bank.aml_pass_through(p_rule, p_txn);
    WHEN 'dormant_reactivated' THEN RETURN QUERY SELECT * FROM bank.aml_dormant_reactivated(p_rule, p_txn);
    WHEN 'risky_counterparty' THEN RETURN QUERY SELECT * FROM bank.aml_risky_counterparty(p_rule, p_txn);
    ELSE RAISE EXCEPTION 'no detector for rule kind %', p_rule.kind USING ERRCODE = 'invalid_parameter_value';
    END CASE;
END
$$;

REVOKE ALL ON FUNCTION bank.aml_detect(bank.aml_rules, bank.transactions) FROM PUBLIC;
