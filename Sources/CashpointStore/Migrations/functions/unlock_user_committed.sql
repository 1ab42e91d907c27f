-- bank.unlock_user whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: unlock_user
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.unlock_user_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, INOUT done boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    done := bank.unlock_user(p_role, p_actor, p_ip, p_device, p_user_name);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.unlock_user_committed(text, text, text, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.unlock_user_committed(text, text, text, text, text, boolean) TO cashpoint_switch;
