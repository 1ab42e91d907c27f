-- bank.work_case whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: work_case
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.work_case_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_case_id bigint, p_action text, p_argument text,
    p_note text, INOUT response_code text DEFAULT NULL, INOUT detail text DEFAULT NULL,
    INOUT status text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.detail, r.status
    INTO response_code, detail, status
    FROM bank.work_case(p_role, p_actor, p_ip, p_device, p_case_id, p_action, p_argument, p_note) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.work_case_committed(text, text, text, text, bigint, text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.work_case_committed(text, text, text, text, bigint, text, text, text, text, text, text) TO cashpoint_switch;
