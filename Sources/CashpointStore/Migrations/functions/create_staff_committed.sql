-- bank.create_staff whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: create_staff
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.create_staff_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_full_name text, p_staff_role text,
    p_password_hash text, INOUT id bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    id := bank.create_staff(p_role, p_actor, p_ip, p_device, p_user_name, p_full_name, p_staff_role, p_password_hash);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.create_staff_committed(text, text, text, text, text, text, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.create_staff_committed(text, text, text, text, text, text, text, text, bigint) TO cashpoint_switch;
