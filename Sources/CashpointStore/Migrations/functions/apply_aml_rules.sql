-- An approved 'aml.rules' change put in force (bank.approve_change calls it): only as an approved
-- change (bank.require_approved_change), never by a direct call. Answers the new version.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.apply_aml_rules(p_actor text, p_ip text, p_device text, p_change_id bigint)
RETURNS int
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
DECLARE
    v_payload jsonb;
BEGIN
    PERFORM bank.require_approved_change('aml.rules', 'rules');
    SELECT c.payload INTO v_payload FROM bank.changes c
    WHERE c.id = p_change_id AND c.operation = 'aml.rules' AND c.status = 'approved';
    IF v_payload IS NULL THEN
        RAISE EXCEPTION 'change % is not an approved change of the rules', p_change_id
            USING ERRCODE = 'CPHLD';
    END IF;
    RETURN bank.install_aml_rules(p_actor, p_ip, p_device, v_payload->>'source', decode(v_payload->>'digest', 'hex'),
        v_payload->'rules', p_change_id);
END
$$;

REVOKE ALL ON FUNCTION bank.apply_aml_rules(text, text, text, bigint) FROM PUBLIC;
