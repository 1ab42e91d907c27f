-- What the switch needs to serve a terminal: no row for an unknown terminal.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.terminal_keys(p_terminal text)
RETURNS TABLE (kind text, enabled boolean, master_key_sealed bytea, session_keys_sealed bytea,
    session_generation int)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT t.kind, t.enabled, t.master_key_sealed, t.session_keys_sealed, t.session_generation
    FROM bank.terminals t WHERE t.id = p_terminal
$$;

GRANT EXECUTE ON FUNCTION bank.terminal_keys(text) TO cashpoint_switch;
