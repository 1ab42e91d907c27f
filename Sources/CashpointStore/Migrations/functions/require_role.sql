-- Refuses (SQLSTATE 42501) unless the context's role is one of those allowed.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.require_role(p_allowed text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
BEGIN
    IF NOT bank.context_role() = ANY (p_allowed) THEN
        RAISE EXCEPTION 'role % may not do this', bank.context_role() USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

REVOKE ALL ON FUNCTION bank.require_role(text[]) FROM PUBLIC;
