-- Four eyes at the database layer: refuses (SQLSTATE CPHLD) unless a change of this operation and
-- target is being applied in this transaction. bank.approve_change is the only way a change becomes
-- 'approved', and it makes it 'applied' (or 'failed') before its transaction ends, so a direct call of a
-- high-risk function, by the switch's role or anyone, finds none and is refused.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.require_approved_change(p_operation text, p_target text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM bank.changes c
        WHERE c.status = 'approved' AND c.operation = p_operation AND c.target = p_target
    ) THEN
        RAISE EXCEPTION '% of % needs a second person''s approval (four eyes)', p_operation, p_target
            USING ERRCODE = 'CPHLD', HINT = 'ask for it (bank.request_change) and have another member of staff approve it';
    END IF;
END
$$;

REVOKE ALL ON FUNCTION bank.require_approved_change(text, text) FROM PUBLIC;
