-- bank.end_terminal_session whose answer is sent only once it has committed: why and how as
-- bank.post_committed.
-- requires: end_terminal_session
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.end_terminal_session_committed(
    p_terminal text, p_stan text, p_ip text, INOUT done boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    done := bank.end_terminal_session(p_terminal, p_stan, p_ip);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.end_terminal_session_committed(text, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.end_terminal_session_committed(text, text, text, boolean) TO cashpoint_switch;
