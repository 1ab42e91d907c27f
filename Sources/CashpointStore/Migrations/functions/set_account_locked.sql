-- Locking is at once; unlocking is high-risk (four eyes): only as an approved change (bank.approve_change).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.set_account_locked(
    p_role text, p_actor text, p_ip text, p_device text, p_account_no text, p_locked boolean
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin']);
    IF NOT p_locked THEN
        PERFORM bank.require_approved_change('account.unlock', p_account_no);
    END IF;
    UPDATE bank.accounts a SET is_locked = p_locked, failed_attempts = CASE WHEN p_locked THEN a.failed_attempts ELSE 0 END
    WHERE a.account_no = p_account_no AND a.kind = 'customer';
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, CASE WHEN p_locked THEN 'account.lock' ELSE 'account.unlock' END,
        CASE WHEN v_count = 1 THEN '00' ELSE '76' END, jsonb_build_object('account', p_account_no), p_ip, p_device);
    RETURN v_count = 1;
END
$$;

REVOKE ALL ON FUNCTION bank.set_account_locked(text, text, text, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.set_account_locked(text, text, text, text, text, boolean) TO cashpoint_switch;
