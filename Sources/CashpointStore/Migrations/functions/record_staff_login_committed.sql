-- bank.record_staff_login whose answer is sent only once it has committed: why and how as
-- bank.post_committed.
-- requires: record_staff_login
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.record_staff_login_committed(
    p_user_id bigint, p_password_ok boolean, p_factor text, p_step bigint, p_recovery_id bigint, p_actor text,
    p_ip text, p_device text, INOUT response_code text DEFAULT NULL, INOUT failed_attempts int DEFAULT NULL,
    INOUT locked boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.failed_attempts, r.locked
    INTO response_code, failed_attempts, locked
    FROM bank.record_staff_login(p_user_id, p_password_ok, p_factor, p_step, p_recovery_id, p_actor, p_ip, p_device) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.record_staff_login_committed(bigint, boolean, text, bigint, bigint, text, text, text, text, int, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.record_staff_login_committed(bigint, boolean, text, bigint, bigint, text, text, text, text, int, boolean) TO cashpoint_switch;
