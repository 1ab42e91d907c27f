-- The end of a re-screening: the versions are marked re-screened (rescreened_at), and the run is
-- audited sanctions.rescreen (phase finish) with its counts (customers screened in this run, hits).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.rescreen_finish(p_actor text, p_versions bigint[], p_screened bigint, p_hits bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    UPDATE bank.sanction_lists l SET rescreened_at = now()
    WHERE l.version = ANY (p_versions) AND l.rescreened_at IS NULL;
    PERFORM bank.audit(p_actor, 'sanctions.rescreen', '00',
        jsonb_build_object('phase', 'finish', 'versions', to_jsonb(p_versions), 'screened', p_screened,
            'hits', p_hits), NULL, NULL);
END
$$;

REVOKE ALL ON FUNCTION bank.rescreen_finish(text, bigint[], bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.rescreen_finish(text, bigint[], bigint, bigint) TO cashpoint_switch;
