SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.open_account(
    p_role text, p_actor text, p_ip text, p_device text, p_user_id bigint, p_account_no text, p_name text,
    p_daily_limit bigint, p_daily_count int
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    IF p_account_no IS NULL OR p_account_no !~ '^[A-Z0-9]{4,28}$' THEN
        RAISE EXCEPTION 'an account number is 4-28 capital letters and digits' USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM bank.users u WHERE u.id = p_user_id AND u.role = 'customer') THEN
        RAISE EXCEPTION 'no customer %', p_user_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    INSERT INTO bank.accounts (account_no, name, kind, user_id, currency, daily_withdrawal_limit, daily_withdrawal_count)
    SELECT p_account_no, p_name, 'customer', p_user_id, s.currency,
        coalesce(p_daily_limit, 100000), coalesce(p_daily_count, 10)
    FROM bank.settings s
    RETURNING id INTO v_id;
    PERFORM bank.audit(p_actor, 'account.create', '00',
        jsonb_build_object('account', p_account_no, 'user', p_user_id), p_ip, p_device);
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION bank.open_account(text, text, text, text, bigint, text, text, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.open_account(text, text, text, text, bigint, text, text, bigint, integer) TO cashpoint_switch;
