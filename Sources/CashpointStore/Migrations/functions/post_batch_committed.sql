-- bank.post_batch whose answers are sent only once the batch has committed: a batch's one round trip,
-- as bank.post_committed is a single posting's (see there why a procedure, SECURITY INVOKER and
-- without a SET clause). Its parameters are bank.post_batch's; its INOUT parameters are bank.post_batch's
-- result arrays, left out of the CALL. A batch that breaks bank.post_batch's rules (SQLSTATE CPBAT) or
-- fails in any way commits nothing: the caller posts its members one at a time.
-- requires: post_batch
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.post_batch_committed(
    p_user_id bigint[], p_card_id bigint[], p_actor text[], p_ip text[], p_device text[],
    p_terminal text[], p_stan text[], p_transmitted text[], p_digest bytea[],
    p_kind text[], p_amount bigint[], p_from text[], p_to text[], p_pan_digest bytea[], p_jti text[],
    INOUT response_codes text[] DEFAULT NULL, INOUT transaction_ids bigint[] DEFAULT NULL,
    INOUT balances bigint[] DEFAULT NULL, INOUT balance_known boolean[] DEFAULT NULL,
    INOUT auth_codes text[] DEFAULT NULL, INOUT replayed boolean[] DEFAULT NULL,
    INOUT card_ids bigint[] DEFAULT NULL, INOUT card_statuses text[] DEFAULT NULL,
    INOUT cards_expired boolean[] DEFAULT NULL, INOUT users_locked boolean[] DEFAULT NULL,
    INOUT sessions_ended boolean[] DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT b.response_codes, b.transaction_ids, b.balances, b.balance_known, b.auth_codes, b.replayed,
        b.card_ids, b.card_statuses, b.cards_expired, b.users_locked, b.sessions_ended
    INTO response_codes, transaction_ids, balances, balance_known, auth_codes, replayed,
        card_ids, card_statuses, cards_expired, users_locked, sessions_ended
    FROM bank.post_batch(p_user_id, p_card_id, p_actor, p_ip, p_device, p_terminal, p_stan, p_transmitted,
        p_digest, p_kind, p_amount, p_from, p_to, p_pan_digest, p_jti) b;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.post_batch_committed(bigint[], bigint[], text[], text[], text[], text[], text[], text[], bytea[], text[], bigint[], text[], text[], bytea[], text[], text[], bigint[], bigint[], boolean[], text[], boolean[], bigint[], text[], boolean[], boolean[], boolean[]) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.post_batch_committed(bigint[], bigint[], text[], text[], text[], text[], text[], text[], bytea[], text[], bigint[], text[], text[], bytea[], text[], text[], bigint[], bigint[], boolean[], text[], boolean[], bigint[], text[], boolean[], boolean[], boolean[]) TO cashpoint_switch;
