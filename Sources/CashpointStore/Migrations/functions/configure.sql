-- The installation's settings: set once, before any account exists.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.configure(p_actor text, p_currency text, p_max_pin_tries int, p_max_password_tries int)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    IF EXISTS (SELECT 1 FROM bank.accounts) THEN
        RAISE EXCEPTION 'the bank already has accounts: its settings are fixed' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO bank.settings (currency, max_pin_tries, max_password_tries)
    VALUES (p_currency, p_max_pin_tries, p_max_password_tries)
    ON CONFLICT (singleton) DO UPDATE
        SET currency = excluded.currency, max_pin_tries = excluded.max_pin_tries,
            max_password_tries = excluded.max_password_tries;
    PERFORM bank.audit(p_actor, 'bank.configure', '00',
        jsonb_build_object('currency', p_currency, 'max_pin_tries', p_max_pin_tries,
            'max_password_tries', p_max_password_tries), NULL, NULL);
END
$$;

REVOKE ALL ON FUNCTION bank.configure(text, text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.configure(text, text, integer, integer) TO cashpoint_switch;
