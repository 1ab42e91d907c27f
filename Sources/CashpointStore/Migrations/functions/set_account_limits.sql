-- An account's daily withdrawal limits (amount in minor units, count; NULL: unchanged). High-risk: only
-- as an approved change (bank.approve_change), never by a direct call.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.set_account_limits(
    p_role text, p_actor text, p_ip text, p_device text, p_account_no text, p_daily_limit bigint, p_daily_count int
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin']);
    PERFORM bank.require_approved_change('account.limits', p_account_no);
    UPDATE bank.accounts a
    SET daily_withdrawal_limit = coalesce(p_daily_limit, a.daily_withdrawal_limit),
        daily_withdrawal_count = coalesce(p_daily_count, a.daily_withdrawal_count)
    WHERE a.account_no = p_account_no AND a.kind = 'customer';
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, 'account.limits', CASE WHEN v_count = 1 THEN '00' ELSE '76' END,
        jsonb_build_object('account', p_account_no, 'daily_limit', p_daily_limit, 'daily_count', p_daily_count),
        p_ip, p_device);
    RETURN v_count = 1;
END
$$;

REVOKE ALL ON FUNCTION bank.set_account_limits(text, text, text, text, text, bigint, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.set_account_limits(text, text, text, text, text, bigint, int) TO cashpoint_switch;
