-- Loads a sanctions list as a new version, all or nothing: the version row, every entry, the previous
-- current version of that source superseded and this one current, and the audit row with the counts,
-- in the caller's one transaction. p_entries: [{"uid", "type", "primary_name", "aliases": [],
-- "dates_of_birth": [], "nationalities": [], "address_countries": [], "program"}]. Returns the version.
-- A version with no entry, or an entry the table refuses (a duplicate uid, an unknown type), loads
-- nothing and the current version stays.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.load_sanction_list(p_actor text, p_source text, p_files jsonb, p_entries jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_version bigint;
    v_previous bigint;
    v_count integer;
    v_counts jsonb;
BEGIN
    PERFORM bank.set_context('system', NULL);
    IF jsonb_typeof(p_entries) IS DISTINCT FROM 'array' OR jsonb_array_length(p_entries) = 0 THEN
        RAISE EXCEPTION 'a sanctions list needs at least one entry' USING ERRCODE = '22023';
    END IF;
    v_count := jsonb_array_length(p_entries);
    SELECT jsonb_build_object(
        'individual', count(*) FILTER (WHERE e->>'type' = 'individual'),
        'entity', count(*) FILTER (WHERE e->>'type' = 'entity'),
        'vessel', count(*) FILTER (WHERE e->>'type' = 'vessel'),
        'aircraft', count(*) FILTER (WHERE e->>'type' = 'aircraft'),
        'aliases', coalesce(sum(jsonb_array_length(coalesce(e->'aliases', '[]'::jsonb))), 0))
    INTO v_counts
    FROM jsonb_array_elements(p_entries) e;

    -- The one current version of this source, locked: two loads of one source take turns.
    SELECT version INTO v_previous FROM bank.sanction_lists
    WHERE source = p_source AND status = 'current' FOR UPDATE;
    IF v_previous IS NOT NULL THEN
        UPDATE bank.sanction_lists SET status = 'superseded', superseded_at = now() WHERE version = v_previous;
    END IF;

    INSERT INTO bank.sanction_lists (source, files, entry_count, counts, status, loaded_by)
    VALUES (p_source, p_files, v_count, v_counts, 'current', p_actor)
    RETURNING version INTO v_version;

    INSERT INTO bank.sanction_entries (version, uid, type, primary_name, aliases, dates_of_birth, nationalities,
        address_countries, program)
    SELECT v_version, e->>'uid', e->>'type', e->>'primary_name',
        ARRAY(SELECT jsonb_array_elements_text(coalesce(e->'aliases', '[]'::jsonb))),
        ARRAY(SELECT jsonb_array_elements_text(coalesce(e->'dates_of_birth', '[]'::jsonb))),
        ARRAY(SELECT jsonb_array_elements_text(coalesce(e->'nationalities', '[]'::jsonb))),
        ARRAY(SELECT jsonb_array_elements_text(coalesce(e->'address_countries', '[]'::jsonb))),
        coalesce(e->>'program', '')
    FROM jsonb_array_elements(p_entries) e;

    PERFORM bank.audit(p_actor, 'sanctions.load', '00',
        jsonb_build_object('source', p_source, 'version', v_version, 'superseded', v_previous,
            'entries', v_count, 'counts', v_counts, 'files', p_files), NULL, NULL);
    PERFORM pg_notify('cashpoint_sanctions', v_version::text);
    RETURN v_version;
END
$$;

REVOKE ALL ON FUNCTION bank.load_sanction_list(text, text, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.load_sanction_list(text, text, jsonb, jsonb) TO cashpoint_switch;
