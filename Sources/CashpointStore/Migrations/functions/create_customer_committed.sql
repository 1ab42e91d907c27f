-- bank.create_customer whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: create_customer
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.create_customer_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_full_name text,
    INOUT id bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    id := bank.create_customer(p_role, p_actor, p_ip, p_device, p_user_name, p_full_name);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.create_customer_committed(text, text, text, text, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.create_customer_committed(text, text, text, text, text, text, bigint) TO cashpoint_switch;
