-- The country risk list the KYC rules read (bank.country_risk): a country not listed is low.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.country_risks() RETURNS TABLE (country text, risk text, source text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT c.country::text, c.risk, c.source FROM bank.country_risk c ORDER BY c.country
$$;

REVOKE ALL ON FUNCTION bank.country_risks() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.country_risks() TO cashpoint_switch;
