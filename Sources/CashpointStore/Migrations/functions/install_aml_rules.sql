-- Puts a set of monitoring rules in force as a new version (bank.aml_rule_sets), audited. p_rules: the
-- rules as CashpointBank.MonitoringRules writes them (id, description, kind, parameters, window_seconds,
-- severity, enabled); the table's checks refuse what is malformed. Called by bank.load_aml_rules for the
-- first version and by bank.apply_aml_rules for an approved change.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.install_aml_rules(
    p_actor text, p_ip text, p_device text, p_source_name text, p_digest bytea, p_rules jsonb, p_change_id bigint
) RETURNS int
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
DECLARE
    v_version int;
    v_count int;
BEGIN
    IF jsonb_typeof(p_rules) IS DISTINCT FROM 'array' OR jsonb_array_length(p_rules) = 0 THEN
        RAISE EXCEPTION 'a rule set is a non-empty array of rules' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO bank.aml_rule_sets (source_name, source_digest, loaded_by, change_id)
    VALUES (p_source_name, p_digest, p_actor, p_change_id)
    RETURNING version INTO v_version;
    INSERT INTO bank.aml_rules (version, rule_id, description, kind, parameters, time_window, severity, enabled)
    SELECT v_version, r.id, r.description, r.kind, r.parameters, make_interval(secs => r.window_seconds), r.severity,
        r.enabled
    FROM jsonb_to_recordset(p_rules) AS r (id text, description text, kind text, parameters jsonb,
        window_seconds bigint, severity text, enabled boolean);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    UPDATE bank.settings s SET aml_rules_version = v_version;
    PERFORM bank.audit(p_actor, 'aml.rules.loaded', '00',
        jsonb_build_object('version', v_version, 'rules', v_count, 'source', p_source_name,
            'digest', encode(p_digest, 'hex'), 'change', p_change_id), p_ip, p_device);
    RETURN v_version;
END
$$;

REVOKE ALL ON FUNCTION bank.install_aml_rules(text, text, text, text, bytea, jsonb, bigint) FROM PUBLIC;
