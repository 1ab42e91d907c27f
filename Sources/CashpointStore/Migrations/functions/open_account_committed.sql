-- bank.open_account whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: open_account
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.open_account_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_user_id bigint, p_account_no text, p_name text,
    p_daily_limit bigint, p_daily_count int, INOUT id bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    id := bank.open_account(p_role, p_actor, p_ip, p_device, p_user_id, p_account_no, p_name, p_daily_limit,
        p_daily_count);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.open_account_committed(text, text, text, text, bigint, text, text, bigint, int, bigint) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.open_account_committed(text, text, text, text, bigint, text, text, bigint, int, bigint) TO cashpoint_switch;
