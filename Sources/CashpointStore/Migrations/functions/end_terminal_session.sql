-- Sign-off: the session keys are forgotten.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.end_terminal_session(p_terminal text, p_stan text, p_ip text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    UPDATE bank.terminals SET session_keys_sealed = NULL, session_started_at = NULL
    WHERE id = p_terminal AND session_keys_sealed IS NOT NULL;
    PERFORM bank.audit('terminal:' || p_terminal, 'terminal.signoff', '00',
        jsonb_build_object('terminal', p_terminal, 'stan', p_stan), p_ip, p_terminal);
    RETURN FOUND;
END
$$;

GRANT EXECUTE ON FUNCTION bank.end_terminal_session(text, text, text) TO cashpoint_switch;
