-- bank.set_account_limits whose answer is sent only once it has committed: why and how as
-- bank.post_committed.
-- requires: set_account_limits
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.set_account_limits_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_account_no text, p_daily_limit bigint,
    p_daily_count int, INOUT done boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    done := bank.set_account_limits(p_role, p_actor, p_ip, p_device, p_account_no, p_daily_limit, p_daily_count);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.set_account_limits_committed(text, text, text, text, text, bigint, int, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.set_account_limits_committed(text, text, text, text, text, bigint, int, boolean) TO cashpoint_switch;
