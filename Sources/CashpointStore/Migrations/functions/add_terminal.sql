-- bank.add_terminal: `atm-switch terminal add` in one transaction: the terminal's internal cash account
-- (terminal_cash for an ATM, teller_drawer for a branch desk), the terminal, and its master key sealed
-- under the switch key with its check value; audited as account.create, terminal.register and
-- terminal.key.set. Any failure (the terminal or the account exists) raises and rolls back all three.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.add_terminal(
    p_actor text, p_terminal text, p_kind text, p_location text,
    p_cash_account_no text, p_cash_account_name text, p_sealed bytea, p_check text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('atm', 'branch') THEN
        RAISE EXCEPTION 'a terminal is an atm or a branch desk, not %', p_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_sealed IS NULL OR p_check IS NULL THEN
        RAISE EXCEPTION 'a new terminal needs its sealed master key and check value'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- An existing terminal is said as such (its key constraint), not as its cash account being taken.
    IF EXISTS (SELECT 1 FROM bank.terminals t WHERE t.id = p_terminal) THEN
        RAISE EXCEPTION 'terminal % exists already', p_terminal
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'terminals_pkey';
    END IF;
    PERFORM bank.open_internal_account(p_actor, p_cash_account_no, p_cash_account_name,
        CASE p_kind WHEN 'atm' THEN 'terminal_cash' ELSE 'teller_drawer' END);
    PERFORM bank.register_terminal(p_actor, p_terminal, p_kind, p_location, p_cash_account_no);
    IF NOT bank.set_terminal_master_key(p_actor, p_terminal, p_sealed, p_check) THEN
        RAISE EXCEPTION 'terminal % vanished while it was added', p_terminal USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

REVOKE ALL ON FUNCTION bank.add_terminal(text, text, text, text, text, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.add_terminal(text, text, text, text, text, text, bytea, text) TO cashpoint_switch;
