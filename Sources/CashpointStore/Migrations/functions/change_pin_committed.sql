-- bank.change_pin whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: change_pin
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.change_pin_committed(
    p_card_id bigint, p_user_id bigint, p_new_hash text, p_actor text, p_ip text, p_device text,
    p_pan_digest bytea, p_jti text, INOUT response_code text DEFAULT NULL, INOUT card_id bigint DEFAULT NULL,
    INOUT card_status text DEFAULT NULL, INOUT card_expired boolean DEFAULT NULL,
    INOUT user_locked boolean DEFAULT NULL, INOUT session_ended boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.card_id, r.card_status, r.card_expired, r.user_locked, r.session_ended
    INTO response_code, card_id, card_status, card_expired, user_locked, session_ended
    FROM bank.change_pin(p_card_id, p_user_id, p_new_hash, p_actor, p_ip, p_device, p_pan_digest, p_jti) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.change_pin_committed(bigint, bigint, text, text, text, text, bytea, text, text, bigint, text, boolean, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.change_pin_committed(bigint, bigint, text, text, text, text, bytea, text, text, bigint, text, boolean, boolean, boolean) TO cashpoint_switch;
