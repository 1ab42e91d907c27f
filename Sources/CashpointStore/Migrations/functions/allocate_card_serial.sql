SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.allocate_card_serial(p_role text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    RETURN nextval('bank.card_serials');
END
$$;

GRANT EXECUTE ON FUNCTION bank.allocate_card_serial(text) TO cashpoint_switch;
