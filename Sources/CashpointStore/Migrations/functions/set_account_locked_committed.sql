-- bank.set_account_locked whose answer is sent only once it has committed: why and how as
-- bank.post_committed.
-- requires: set_account_locked
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.set_account_locked_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_account_no text, p_locked boolean,
    INOUT done boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    done := bank.set_account_locked(p_role, p_actor, p_ip, p_device, p_account_no, p_locked);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.set_account_locked_committed(text, text, text, text, text, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.set_account_locked_committed(text, text, text, text, text, boolean, boolean) TO cashpoint_switch;
