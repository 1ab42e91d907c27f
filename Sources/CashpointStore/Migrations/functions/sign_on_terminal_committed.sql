-- bank.sign_on_terminal whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: sign_on_terminal
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.sign_on_terminal_committed(
    p_terminal text, p_sealed bytea, p_stan text, p_transmitted text, p_ip text,
    INOUT generation int DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    generation := bank.sign_on_terminal(p_terminal, p_sealed, p_stan, p_transmitted, p_ip);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.sign_on_terminal_committed(text, bytea, text, text, text, int) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.sign_on_terminal_committed(text, bytea, text, text, text, int) TO cashpoint_switch;
