-- bank.start_enrolment whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: start_enrolment
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.start_enrolment_committed(
    p_user_id bigint, p_code_digest bytea, p_sealed_secret bytea, p_algorithm text, p_digits int,
    p_recovery_hashes text[], p_actor text, p_ip text, p_device text, INOUT done boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    done := bank.start_enrolment(p_user_id, p_code_digest, p_sealed_secret, p_algorithm, p_digits, p_recovery_hashes,
        p_actor, p_ip, p_device);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.start_enrolment_committed(bigint, bytea, bytea, text, int, text[], text, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.start_enrolment_committed(bigint, bytea, bytea, text, int, text[], text, text, text, boolean) TO cashpoint_switch;
