SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.open_internal_account(
    p_actor text, p_account_no text, p_name text, p_kind text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM bank.set_context('system', NULL);
    IF p_kind NOT IN ('terminal_cash', 'teller_drawer', 'bank_equity') THEN
        RAISE EXCEPTION 'not an internal account kind: %', p_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_account_no IS NULL OR p_account_no !~ '^[A-Z0-9]{4,28}$' THEN
        RAISE EXCEPTION 'an account number is 4-28 capital letters and digits' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO bank.accounts (account_no, name, kind, currency)
    SELECT p_account_no, p_name, p_kind, s.currency FROM bank.settings s
    RETURNING id INTO v_id;
    PERFORM bank.audit(p_actor, 'account.create', '00',
        jsonb_build_object('account', p_account_no, 'kind', p_kind), NULL, NULL);
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION bank.open_internal_account(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.open_internal_account(text, text, text, text) TO cashpoint_switch;
