-- `atm-switch aml rules load`: a set of monitoring rules (already parsed and validated by
-- CashpointBank.MonitoringRules; p_digest is the SHA-256 of its canonical JSON). With no rules in force
-- it is put in force at once as version 1 (00, audited). The same rules as those in force: 00, nothing
-- changes ('unchanged'). Otherwise the new version is a high-risk change, 'aml.rules', held for a second
-- person (09 and the change's id; bank.request_change): p_maker names the member of staff who asks
-- (a compliance officer, 58 otherwise), and a checker of the four-eyes table's roles
-- approves it at the desk with their own second factor (bank.approve_change puts it in force).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.load_aml_rules(
    p_actor text, p_ip text, p_device text, p_maker text, p_reason text, p_source_name text, p_digest bytea,
    p_rules jsonb
) RETURNS TABLE (response_code text, version int, change_id bigint, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_current int;
    v_current_digest bytea;
    v_maker record;
    v_held record;
BEGIN
    SELECT s.aml_rules_version, r.source_digest INTO v_current, v_current_digest
    FROM bank.settings s LEFT JOIN bank.aml_rule_sets r ON r.version = s.aml_rules_version;
    IF v_current IS NULL THEN
        version := bank.install_aml_rules(p_actor, p_ip, p_device, p_source_name, p_digest, p_rules, NULL);
        response_code := '00';
        detail := 'the first rules, in force';
        RETURN NEXT;
        RETURN;
    END IF;
    IF v_current_digest = p_digest THEN
        RETURN QUERY SELECT '00'::text, v_current, NULL::bigint, 'unchanged: these rules are in force'::text;
        RETURN;
    END IF;
    SELECT u.id, u.user_name, u.role INTO v_maker FROM bank.users u
    WHERE u.user_name = p_maker AND u.role = 'compliance' AND NOT u.locked;
    IF v_maker.id IS NULL THEN
        PERFORM bank.audit(p_actor, 'aml.rules.refused', '58',
            jsonb_build_object('maker', p_maker, 'reason', 'not a compliance officer'), p_ip, p_device);
        RETURN QUERY SELECT '58'::text, v_current, NULL::bigint,
            'a new version of the rules needs a maker: a compliance officer (--maker)'::text;
        RETURN;
    END IF;
    SELECT * INTO v_held FROM bank.request_change(v_maker.role, v_maker.id, v_maker.user_name, p_ip, p_device,
        'aml.rules', 'rules',
        jsonb_build_object('source', p_source_name, 'digest', encode(p_digest, 'hex'), 'rules', p_rules), p_reason);
    RETURN QUERY SELECT v_held.response_code, v_current, v_held.change_id, v_held.detail;
END
$$;

REVOKE ALL ON FUNCTION bank.load_aml_rules(text, text, text, text, text, text, bytea, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.load_aml_rules(text, text, text, text, text, text, bytea, jsonb) TO cashpoint_switch;
