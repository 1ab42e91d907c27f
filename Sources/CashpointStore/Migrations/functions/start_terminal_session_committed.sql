-- bank.start_terminal_session whose answer is sent only once it has committed: why and how as
-- bank.post_committed.
-- requires: start_terminal_session
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.start_terminal_session_committed(
    p_terminal text, p_sealed bytea, p_action text, p_stan text, p_ip text, INOUT generation int DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    generation := bank.start_terminal_session(p_terminal, p_sealed, p_action, p_stan, p_ip);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.start_terminal_session_committed(text, bytea, text, text, text, int) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.start_terminal_session_committed(text, bytea, text, text, text, int) TO cashpoint_switch;
