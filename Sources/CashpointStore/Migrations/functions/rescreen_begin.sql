-- The start of a re-screening of every customer: the current list versions not yet re-screened (all
-- current versions when p_force, which starts them over), the cursor to resume from (the lowest
-- last-customer-id done among them; 0 when one has not started), and how many customers are recorded.
-- No version to do: nothing is audited and versions is empty. Audited sanctions.rescreen (phase start).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.rescreen_begin(p_actor text, p_force boolean)
RETURNS TABLE (versions bigint[], resume_after bigint, customers bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('cashpoint.rescreen', 0));
    IF p_force THEN
        UPDATE bank.sanction_lists l SET rescreened_at = NULL, rescreen_cursor = NULL, rescreen_started_at = NULL
        WHERE l.status = 'current';
    END IF;
    SELECT coalesce(array_agg(l.version ORDER BY l.version), ARRAY[]::bigint[]),
        coalesce(min(coalesce(l.rescreen_cursor, 0)), 0)
    INTO versions, resume_after
    FROM bank.sanction_lists l WHERE l.status = 'current' AND l.rescreened_at IS NULL;
    SELECT count(*) INTO customers FROM bank.customer_identities;
    IF cardinality(versions) > 0 THEN
        UPDATE bank.sanction_lists l SET rescreen_started_at = coalesce(l.rescreen_started_at, now())
        WHERE l.version = ANY (versions);
        PERFORM bank.audit(p_actor, 'sanctions.rescreen', '00',
            jsonb_build_object('phase', 'start', 'versions', to_jsonb(versions), 'resume_after', resume_after,
                'customers', customers, 'forced', p_force), NULL, NULL);
    END IF;
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION bank.rescreen_begin(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.rescreen_begin(text, boolean) TO cashpoint_switch;
