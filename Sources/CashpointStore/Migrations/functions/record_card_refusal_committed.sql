-- bank.record_card_refusal whose answer is sent only once it has committed: why and how as
-- bank.post_committed. It returns nothing: the CALL's completion, after the COMMIT, is the confirmation.
-- requires: record_card_refusal
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.record_card_refusal_committed(
    p_card_id bigint, p_code text, p_reason text, p_actor text, p_ip text, p_device text)
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM bank.record_card_refusal(p_card_id, p_code, p_reason, p_actor, p_ip, p_device);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.record_card_refusal_committed(bigint, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.record_card_refusal_committed(bigint, text, text, text, text, text) TO cashpoint_switch;
