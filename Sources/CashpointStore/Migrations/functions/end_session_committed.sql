-- bank.end_session whose answer is sent only once it has committed: why and how as bank.post_committed. It
-- returns nothing: the CALL's completion, after the COMMIT, is the confirmation.
-- requires: end_session
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.end_session_committed(
    p_actor text, p_jti text, p_expires timestamptz, p_role text, p_ip text, p_device text)
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM bank.end_session(p_actor, p_jti, p_expires, p_role, p_ip, p_device);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.end_session_committed(text, text, timestamptz, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.end_session_committed(text, text, timestamptz, text, text, text) TO cashpoint_switch;
