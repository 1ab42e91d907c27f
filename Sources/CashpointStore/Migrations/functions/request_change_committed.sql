-- bank.request_change whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: request_change
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.request_change_committed(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text, p_operation text, p_target text,
    p_payload jsonb, p_reason text, INOUT response_code text DEFAULT NULL, INOUT change_id bigint DEFAULT NULL,
    INOUT detail text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.change_id, r.detail
    INTO response_code, change_id, detail
    FROM bank.request_change(p_role, p_user_id, p_actor, p_ip, p_device, p_operation, p_target, p_payload, p_reason) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.request_change_committed(text, bigint, text, text, text, text, text, jsonb, text, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.request_change_committed(text, bigint, text, text, text, text, text, jsonb, text, text, bigint, text) TO cashpoint_switch;
