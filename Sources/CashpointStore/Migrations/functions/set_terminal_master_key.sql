-- Sets (or replaces) a terminal's master key: any session it had ends.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.set_terminal_master_key(
    p_actor text, p_terminal text, p_sealed bytea, p_check text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    UPDATE bank.terminals
    SET master_key_sealed = p_sealed, master_key_check = p_check, session_keys_sealed = NULL,
        session_started_at = NULL
    WHERE id = p_terminal;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM bank.audit(p_actor, 'terminal.key.set', '00',
        jsonb_build_object('terminal', p_terminal, 'check_value', p_check), NULL, NULL);
    RETURN true;
END
$$;

GRANT EXECUTE ON FUNCTION bank.set_terminal_master_key(text, text, bytea, text) TO cashpoint_switch;
