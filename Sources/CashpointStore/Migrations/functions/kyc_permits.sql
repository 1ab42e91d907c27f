-- The know-your-customer gate of a posting (bank.post's checks, inside the posting transaction, so no
-- race): whether the customer p_user_id may have money move this way (p_kind: 'withdrawal' or
-- 'transfer' out of their account, 'deposit' into it, the receiving side of a transfer included).
-- A verified customer may; one who is pending, rejected or expired may only what
-- bank.settings.unverified_may names (default: deposits); a customer with no identity recorded is
-- served as before while bank.settings.serve_unrecorded is true. An account with no customer (the
-- bank's own) always may. False is answered 1K.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.kyc_permits(p_user_id bigint, p_kind text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, bank AS $$
DECLARE
    v_settings bank.settings%ROWTYPE;
    v_status text;
BEGIN
    IF p_user_id IS NULL THEN
        RETURN true;
    END IF;
    v_status := bank.kyc_status(p_user_id);
    IF v_status = 'verified' THEN
        RETURN true;
    END IF;
    SELECT * INTO v_settings FROM bank.settings;
    RETURN p_kind = ANY (v_settings.unverified_may) OR (v_status = 'unrecorded' AND v_settings.serve_unrecorded);
END
$$;

REVOKE ALL ON FUNCTION bank.kyc_permits(bigint, text) FROM PUBLIC;
