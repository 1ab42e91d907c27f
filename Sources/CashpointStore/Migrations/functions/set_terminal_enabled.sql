-- Enables or disables a terminal; a disabled terminal cannot sign on and its session ends.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.set_terminal_enabled(p_actor text, p_terminal text, p_enabled boolean) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    UPDATE bank.terminals
    SET enabled = p_enabled,
        session_keys_sealed = CASE WHEN p_enabled THEN session_keys_sealed END,
        session_started_at = CASE WHEN p_enabled THEN session_started_at END
    WHERE id = p_terminal;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM bank.audit(p_actor, CASE WHEN p_enabled THEN 'terminal.enable' ELSE 'terminal.disable' END, '00',
        jsonb_build_object('terminal', p_terminal), NULL, NULL);
    RETURN true;
END
$$;

GRANT EXECUTE ON FUNCTION bank.set_terminal_enabled(text, text, boolean) TO cashpoint_switch;
