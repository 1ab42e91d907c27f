-- bank.balance for a card session: its answer, or (response_code NULL) the card's state. bank.balance
-- checks the card and the session in the same call.
--
-- It only names bank.balance's session form, and the planner inlines it: the switch's prepared statement
-- runs one SECURITY DEFINER call, bank.balance. A set-returning SQL function is inlined only when it is
-- not VOLATILE (nor STRICT, SECURITY DEFINER or with a SET clause), hence STABLE here: it does nothing
-- itself, and bank.balance, a VOLATILE function, does the work and checks its caller's EXECUTE right.
-- requires: balance
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.session_balance(
    p_pan_digest bytea, p_jti text,
    p_role text, p_user_id bigint, p_card_id bigint, p_account_no text, p_actor text, p_ip text, p_device text)
RETURNS TABLE(response_code text, balance bigint, card_id bigint, card_status text, card_expired boolean,
    user_locked boolean, session_ended boolean)
LANGUAGE sql STABLE
AS $$
    SELECT b.response_code, b.balance, b.card_id, b.card_status, b.card_expired, b.user_locked, b.session_ended
    FROM bank.balance(p_role, p_user_id, p_card_id, p_account_no, p_actor, p_ip, p_device, p_pan_digest, p_jti) b
$$;

REVOKE ALL ON FUNCTION bank.session_balance(bytea, text, text, bigint, bigint, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.session_balance(bytea, text, text, bigint, bigint, text, text, text, text) TO cashpoint_switch;
