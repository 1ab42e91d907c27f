-- Stores the new sealed session keys of an authenticated sign-on. NULL, and nothing changed, for an
-- unknown or disabled terminal, one without a master key, or a sign-on seen before (a replay).
-- Audited either way.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.sign_on_terminal(
    p_terminal text, p_sealed bytea, p_stan text, p_transmitted text, p_ip text
) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_generation int;
    v_fresh boolean;
BEGIN
    PERFORM bank.set_context('system', NULL);
    INSERT INTO bank.terminal_signons (terminal_id, stan, transmitted) VALUES (p_terminal, p_stan, p_transmitted)
    ON CONFLICT DO NOTHING;
    v_fresh := FOUND;
    IF v_fresh THEN
        UPDATE bank.terminals
        SET session_keys_sealed = p_sealed, session_generation = session_generation + 1, session_started_at = now()
        WHERE id = p_terminal AND enabled AND master_key_sealed IS NOT NULL
        RETURNING session_generation INTO v_generation;
    END IF;
    PERFORM bank.audit('terminal:' || p_terminal, 'terminal.signon', CASE WHEN v_generation IS NULL THEN '63' ELSE '00' END,
        jsonb_build_object('terminal', p_terminal, 'stan', p_stan, 'generation', v_generation,
            'reason', CASE WHEN NOT v_fresh THEN 'replayed sign-on' WHEN v_generation IS NULL THEN 'disabled' END),
        p_ip, p_terminal);
    RETURN v_generation;
END
$$;

GRANT EXECUTE ON FUNCTION bank.sign_on_terminal(text, bytea, text, text, text) TO cashpoint_switch;
