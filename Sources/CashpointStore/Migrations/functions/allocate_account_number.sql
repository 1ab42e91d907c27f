SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.allocate_account_number(p_role text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_no text;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    LOOP
        v_no := 'CP' || lpad(nextval('bank.account_numbers')::text, 10, '0');
        EXIT WHEN NOT EXISTS (SELECT 1 FROM bank.accounts a WHERE a.account_no = v_no);
    END LOOP;
    RETURN v_no;
END
$$;

GRANT EXECUTE ON FUNCTION bank.allocate_account_number(text) TO cashpoint_switch;
