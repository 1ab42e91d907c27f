SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.register_terminal(
    p_actor text, p_terminal text, p_kind text, p_location text, p_cash_account_no text
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    INSERT INTO bank.terminals (id, kind, location, cash_account_id)
    SELECT p_terminal, p_kind, p_location, a.id FROM bank.accounts a
    WHERE a.account_no = p_cash_account_no AND a.kind IN ('terminal_cash', 'teller_drawer');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no internal cash account %', p_cash_account_no USING ERRCODE = 'foreign_key_violation';
    END IF;
    PERFORM bank.audit(p_actor, 'terminal.register', '00',
        jsonb_build_object('terminal', p_terminal, 'kind', p_kind), NULL, NULL);
END
$$;

REVOKE ALL ON FUNCTION bank.register_terminal(text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.register_terminal(text, text, text, text, text) TO cashpoint_switch;
