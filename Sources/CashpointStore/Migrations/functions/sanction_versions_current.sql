-- What the switch compares before screening a new customer: each source's current list version and
-- the hit threshold (bank.settings.screening_threshold). One small row per source; no entries.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.sanction_versions_current()
RETURNS TABLE (source text, version bigint, threshold double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT l.source, l.version, (SELECT s.screening_threshold FROM bank.settings s)::double precision
    FROM bank.sanction_lists l
    WHERE l.status = 'current'
    UNION ALL
    SELECT NULL, NULL, s.screening_threshold::double precision FROM bank.settings s
    WHERE NOT EXISTS (SELECT 1 FROM bank.sanction_lists l WHERE l.status = 'current')
$$;

REVOKE ALL ON FUNCTION bank.sanction_versions_current() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.sanction_versions_current() TO cashpoint_switch;
