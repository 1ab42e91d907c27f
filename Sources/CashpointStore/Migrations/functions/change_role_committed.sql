-- bank.change_role whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: change_role
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.change_role_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_new_role text,
    INOUT done boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    done := bank.change_role(p_role, p_actor, p_ip, p_device, p_user_name, p_new_role);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.change_role_committed(text, text, text, text, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.change_role_committed(text, text, text, text, text, text, boolean) TO cashpoint_switch;
