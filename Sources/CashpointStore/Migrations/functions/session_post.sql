-- bank.post for a card session: the answer of bank.post, or (response_code NULL) the card's state.
-- Its parameters are bank.post's, then the card's PAN digest and the session's id; bank.post checks the
-- card and the session in the same call.
--
-- It only names bank.post's session form, and the planner inlines it: the switch's prepared statement
-- `SELECT ... FROM bank.session_post($1, ...)` is planned as `SELECT ... FROM bank.post($1, ...)`, one
-- SECURITY DEFINER call. A set-returning SQL function is inlined only when it is not VOLATILE (nor
-- STRICT, SECURITY DEFINER or with a SET clause), hence STABLE here: it does nothing itself, and the
-- writing is bank.post's, a VOLATILE function with its own snapshots. bank.post checks its caller's
-- EXECUTE right as before.
-- requires: post
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.session_post(
    p_role text, p_user_id bigint, p_card_id bigint, p_actor text, p_ip text, p_device text, p_terminal text,
    p_stan text, p_transmitted text, p_digest bytea, p_kind text, p_amount bigint, p_from text, p_to text,
    p_pan_digest bytea, p_jti text)
RETURNS TABLE(response_code text, transaction_id bigint, balance_after bigint, auth_code text, replayed boolean,
    card_id bigint, card_status text, card_expired boolean, user_locked boolean, session_ended boolean)
LANGUAGE sql STABLE
AS $$
    SELECT p.response_code, p.transaction_id, p.balance_after, p.auth_code, p.replayed,
        p.card_id, p.card_status, p.card_expired, p.user_locked, p.session_ended
    FROM bank.post(p_role, p_user_id, p_card_id, p_actor, p_ip, p_device, p_terminal, p_stan, p_transmitted,
        p_digest, p_kind, p_amount, p_from, p_to, p_pan_digest, p_jti) p
$$;

REVOKE ALL ON FUNCTION bank.session_post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.session_post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text, bytea, text) TO cashpoint_switch;
