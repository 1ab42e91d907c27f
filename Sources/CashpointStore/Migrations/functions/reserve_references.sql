-- The first of 1,000 reference numbers no other caller gets (until the sequence wraps at 10^11).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.reserve_references() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT nextval('bank.reference_blocks')
$$;

GRANT EXECUTE ON FUNCTION bank.reserve_references() TO cashpoint_switch;
