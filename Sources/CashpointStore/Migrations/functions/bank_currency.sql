SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.bank_currency() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT s.currency::text FROM bank.settings s
$$;

GRANT EXECUTE ON FUNCTION bank.bank_currency() TO cashpoint_switch;
