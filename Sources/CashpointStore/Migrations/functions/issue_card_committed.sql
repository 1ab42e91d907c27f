-- bank.issue_card whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: issue_card
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.issue_card_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_user_id bigint, p_pan_digest bytea,
    p_pan_masked text, p_pin_hash text, p_expiry date, p_account_nos text[], INOUT id bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    id := bank.issue_card(p_role, p_actor, p_ip, p_device, p_user_id, p_pan_digest, p_pan_masked, p_pin_hash, p_expiry,
        p_account_nos);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.issue_card_committed(text, text, text, text, bigint, bytea, text, text, date, text[], bigint) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.issue_card_committed(text, text, text, text, bigint, bytea, text, text, date, text[], bigint) TO cashpoint_switch;
