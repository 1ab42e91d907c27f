-- bank.reject_change whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: reject_change
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.reject_change_committed(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text, p_id bigint, p_reason text,
    INOUT response_code text DEFAULT NULL, INOUT detail text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.detail
    INTO response_code, detail
    FROM bank.reject_change(p_role, p_user_id, p_actor, p_ip, p_device, p_id, p_reason) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.reject_change_committed(text, bigint, text, text, text, bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.reject_change_committed(text, bigint, text, text, text, bigint, text, text, text) TO cashpoint_switch;
