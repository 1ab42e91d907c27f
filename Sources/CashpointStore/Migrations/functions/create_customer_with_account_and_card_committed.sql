-- bank.create_customer_with_account_and_card whose answer is sent only once it has committed: why and how as
-- bank.post_committed.
-- requires: create_customer_with_account_and_card
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.create_customer_with_account_and_card_committed(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_full_name text, p_account_no text,
    p_account_name text, p_daily_limit bigint, p_daily_count int, p_pan_digest bytea, p_pan_masked text,
    p_pin_hash text, p_expiry date, p_date_of_birth date, p_nationality text, p_address text,
    p_document_type text, p_document_country text, p_document_digest bytea, p_document_last4 text,
    p_politically_exposed boolean, p_screening text, p_screening_detail text, p_risk_rating text,
    p_risk_reasons text[], INOUT customer_id bigint DEFAULT NULL, INOUT account_id bigint DEFAULT NULL,
    INOUT account_no text DEFAULT NULL, INOUT card_id bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.customer_id, r.account_id, r.account_no, r.card_id
    INTO customer_id, account_id, account_no, card_id
    FROM bank.create_customer_with_account_and_card(p_role, p_actor, p_ip, p_device, p_user_name, p_full_name,
        p_account_no, p_account_name, p_daily_limit, p_daily_count, p_pan_digest, p_pan_masked, p_pin_hash,
        p_expiry, p_date_of_birth, p_nationality, p_address, p_document_type, p_document_country,
        p_document_digest, p_document_last4, p_politically_exposed, p_screening, p_screening_detail,
        p_risk_rating, p_risk_reasons) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.create_customer_with_account_and_card_committed(text, text, text, text, text, text, text, text, bigint, int, bytea, text, text, date, date, text, text, text, text, bytea, text, boolean, text, text, text, text[], bigint, bigint, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.create_customer_with_account_and_card_committed(text, text, text, text, text, text, text, text, bigint, int, bytea, text, text, date, date, text, text, text, text, bytea, text, boolean, text, text, text, text[], bigint, bigint, text, bigint) TO cashpoint_switch;
