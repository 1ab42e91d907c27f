-- bank.set_card_status whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: set_card_status
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.set_card_status_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_pan_digest bytea, p_status text,
    INOUT done boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    done := bank.set_card_status(p_role, p_actor, p_ip, p_device, p_pan_digest, p_status);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.set_card_status_committed(text, text, text, text, bytea, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.set_card_status_committed(text, text, text, text, bytea, text, boolean) TO cashpoint_switch;
