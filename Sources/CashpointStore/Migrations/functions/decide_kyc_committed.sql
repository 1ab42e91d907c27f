-- bank.decide_kyc whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: decide_kyc
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.decide_kyc_committed(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text, p_customer bigint, p_decision text,
    p_reason text, p_review_months int, INOUT response_code text DEFAULT NULL, INOUT detail text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.detail
    INTO response_code, detail
    FROM bank.decide_kyc(p_role, p_user_id, p_actor, p_ip, p_device, p_customer, p_decision, p_reason,
        p_review_months) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.decide_kyc_committed(text, bigint, text, text, text, bigint, text, text, int, text, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.decide_kyc_committed(text, bigint, text, text, text, bigint, text, text, int, text, text) TO cashpoint_switch;
