-- Sign-on or key change: stores the new sealed session keys and returns their generation. Refused
-- (no row changed, NULL) for an unknown or disabled terminal or one without a master key.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.start_terminal_session(
    p_terminal text, p_sealed bytea, p_action text, p_stan text, p_ip text
) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_generation int;
BEGIN
    IF p_action NOT IN ('terminal.signon', 'terminal.keychange') THEN
        RAISE EXCEPTION 'unknown session action %', p_action USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM bank.set_context('system', NULL);
    UPDATE bank.terminals
    SET session_keys_sealed = p_sealed, session_generation = session_generation + 1,
        session_started_at = CASE WHEN p_action = 'terminal.signon' THEN now() ELSE session_started_at END
    WHERE id = p_terminal AND enabled AND master_key_sealed IS NOT NULL
    RETURNING session_generation INTO v_generation;
    PERFORM bank.audit('terminal:' || p_terminal, p_action, CASE WHEN v_generation IS NULL THEN '58' ELSE '00' END,
        jsonb_build_object('terminal', p_terminal, 'stan', p_stan, 'generation', v_generation), p_ip, p_terminal);
    RETURN v_generation;
END
$$;

GRANT EXECUTE ON FUNCTION bank.start_terminal_session(text, bytea, text, text, text) TO cashpoint_switch;
