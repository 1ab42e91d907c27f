-- The entries of every source's current sanctions list version, to build the screening index from.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.sanction_entries_current()
RETURNS TABLE (
    version bigint, source text, uid text, type text, primary_name text, aliases text[], dates_of_birth text[],
    nationalities text[], address_countries text[], program text
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT l.version, l.source, e.uid, e.type, e.primary_name, e.aliases, e.dates_of_birth, e.nationalities,
        e.address_countries, e.program
    FROM bank.sanction_lists l JOIN bank.sanction_entries e ON e.version = l.version
    WHERE l.status = 'current'
    ORDER BY l.source, e.uid
$$;

REVOKE ALL ON FUNCTION bank.sanction_entries_current() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.sanction_entries_current() TO cashpoint_switch;
