-- bank.post whose answer is sent only once it has committed: the switch's one round trip for a money
-- movement (issue 23). In autocommit PostgreSQL sends a statement's row and CommandComplete before the
-- commit at the protocol's Sync, and a backend that dies in between (an immediate shutdown, a
-- terminated backend) flushes them first: the client would hold 00 for a posting that never committed.
-- A procedure may COMMIT, also when CALLed with bound parameters (the extended protocol), and its
-- INOUT values travel as the CALL's one row, after that COMMIT: a row received is a commit made, with
-- synchronous commit on, flushed. A failure at the commit (a deferred constraint) is the CALL's error,
-- before any row.
--
-- A procedure that COMMITs must be SECURITY INVOKER and have no SET clause (else 2D000 invalid
-- transaction termination), so it names everything by schema and does nothing but call bank.post,
-- the SECURITY DEFINER function with its own search_path, context and checks. It must be CALLed
-- outside a transaction block. Its parameters are bank.post's (the card session's two last, NULL for a
-- posting without one); its INOUT parameters are bank.post's result columns, left out of the CALL.
-- requires: post
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.post_committed(
    p_role text, p_user_id bigint, p_card_id bigint, p_actor text, p_ip text, p_device text,
    p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_kind text, p_amount bigint, p_from text, p_to text,
    p_pan_digest bytea DEFAULT NULL, p_jti text DEFAULT NULL,
    INOUT response_code text DEFAULT NULL, INOUT transaction_id bigint DEFAULT NULL,
    INOUT balance_after bigint DEFAULT NULL, INOUT auth_code text DEFAULT NULL, INOUT replayed boolean DEFAULT NULL,
    INOUT card_id bigint DEFAULT NULL, INOUT card_status text DEFAULT NULL, INOUT card_expired boolean DEFAULT NULL,
    INOUT user_locked boolean DEFAULT NULL, INOUT session_ended boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT p.response_code, p.transaction_id, p.balance_after, p.auth_code, p.replayed,
        p.card_id, p.card_status, p.card_expired, p.user_locked, p.session_ended
    INTO response_code, transaction_id, balance_after, auth_code, replayed,
        card_id, card_status, card_expired, user_locked, session_ended
    FROM bank.post(p_role, p_user_id, p_card_id, p_actor, p_ip, p_device, p_terminal, p_stan, p_transmitted,
        p_digest, p_kind, p_amount, p_from, p_to, p_pan_digest, p_jti) p;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.post_committed(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text, bytea, text, text, bigint, bigint, text, boolean, bigint, text, boolean, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.post_committed(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text, bytea, text, text, bigint, bigint, text, boolean, bigint, text, boolean, boolean, boolean) TO cashpoint_switch;
