-- A re-screening's progress: the last customer id whose result is recorded, kept with each version
-- being re-screened, so a stopped run resumes after it (bank.rescreen_begin). Never moves back.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.rescreen_advance(p_versions bigint[], p_cursor bigint)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    UPDATE bank.sanction_lists l SET rescreen_cursor = greatest(coalesce(l.rescreen_cursor, 0), p_cursor)
    WHERE l.version = ANY (p_versions) AND l.rescreened_at IS NULL;
$$;

REVOKE ALL ON FUNCTION bank.rescreen_advance(bigint[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.rescreen_advance(bigint[], bigint) TO cashpoint_switch;
