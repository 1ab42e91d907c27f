-- bank.issue_enrolment_code whose answer is sent only once it has committed: why and how as
-- bank.post_committed.
-- requires: issue_enrolment_code
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.issue_enrolment_code_committed(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text, p_user_name text,
    p_code_digest bytea, INOUT response_code text DEFAULT NULL, INOUT detail text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.detail
    INTO response_code, detail
    FROM bank.issue_enrolment_code(p_role, p_user_id, p_actor, p_ip, p_device, p_user_name, p_code_digest) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.issue_enrolment_code_committed(text, bigint, text, text, text, text, bytea, text, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.issue_enrolment_code_committed(text, bigint, text, text, text, text, bytea, text, text) TO cashpoint_switch;
