-- Pending changes past their time become 'expired', each audited.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.expire_changes(p_ip text, p_device text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
DECLARE
    v_change record;
BEGIN
    FOR v_change IN
        UPDATE bank.changes c SET status = 'expired', decided_at = now()
        WHERE c.status = 'pending' AND c.expires_at <= now()
        RETURNING c.id, c.operation, c.target, c.maker_name
    LOOP
        PERFORM bank.audit('system', 'change.expired', '12',
            jsonb_build_object('change', v_change.id, 'operation', v_change.operation, 'maker', v_change.maker_name),
            p_ip, p_device);
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION bank.expire_changes(text, text) FROM PUBLIC;
