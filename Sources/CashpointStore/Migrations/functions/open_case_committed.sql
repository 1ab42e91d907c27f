-- bank.open_case whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: open_case
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.open_case_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_customer text, p_severity text, p_reason text,
    INOUT response_code text DEFAULT NULL, INOUT case_id bigint DEFAULT NULL, INOUT detail text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.case_id, r.detail
    INTO response_code, case_id, detail
    FROM bank.open_case(p_role, p_actor, p_ip, p_device, p_customer, p_severity, p_reason) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.open_case_committed(text, text, text, text, text, text, text, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.open_case_committed(text, text, text, text, text, text, text, text, bigint, text) TO cashpoint_switch;
