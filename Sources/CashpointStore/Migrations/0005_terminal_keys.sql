-- 0005: terminal keys and sessions (atm-switch serve).
-- A terminal's master key is stored sealed (AES-256-GCM) under a key derived from the switch key,
-- which lives outside the database; its session keys (PIN key and MAC key) likewise. The database
-- alone therefore never yields a usable key. Any switch instance that holds the switch key can serve
-- any terminal: sessions survive a restart and spread over several switches.
SET LOCAL ROLE cashpoint_owner;

ALTER TABLE bank.terminals
    ADD COLUMN master_key_sealed bytea,
    ADD COLUMN master_key_check text CHECK (master_key_check ~ '^[0-9A-F]{6}$'),
    ADD COLUMN session_keys_sealed bytea,
    ADD COLUMN session_generation int NOT NULL DEFAULT 0 CHECK (session_generation >= 0),
    ADD COLUMN session_started_at timestamptz;

-- Sets (or replaces) a terminal's master key: any session it had ends.
CREATE FUNCTION bank.set_terminal_master_key(
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

-- Enables or disables a terminal; a disabled terminal cannot sign on and its session ends.
CREATE FUNCTION bank.set_terminal_enabled(p_actor text, p_terminal text, p_enabled boolean) RETURNS boolean
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

-- What the switch needs to serve a terminal: no row for an unknown terminal.
CREATE FUNCTION bank.terminal_keys(p_terminal text)
RETURNS TABLE (kind text, enabled boolean, master_key_sealed bytea, session_keys_sealed bytea,
    session_generation int)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT t.kind, t.enabled, t.master_key_sealed, t.session_keys_sealed, t.session_generation
    FROM bank.terminals t WHERE t.id = p_terminal
$$;

-- Sign-on or key change: stores the new sealed session keys and returns their generation. Refused
-- (no row changed, NULL) for an unknown or disabled terminal or one without a master key.
CREATE FUNCTION bank.start_terminal_session(
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

-- Sign-off: the session keys are forgotten.
CREATE FUNCTION bank.end_terminal_session(p_terminal text, p_stan text, p_ip text) RETURNS boolean
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

GRANT EXECUTE ON FUNCTION
    bank.set_terminal_master_key(text, text, bytea, text),
    bank.set_terminal_enabled(text, text, boolean),
    bank.terminal_keys(text),
    bank.start_terminal_session(text, bytea, text, text, text),
    bank.end_terminal_session(text, text, text)
TO cashpoint_switch;
