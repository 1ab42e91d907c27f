-- bank.create_customer_with_account_and_card: CREATE (0600) in one transaction. The customer, the
-- account (its number allocated here when p_account_no is NULL), the card linked to it and the
-- customer's identity (bank.record_identity: KYC 'pending' until a compliance user verifies), each
-- audited as before (customer.create, account.create, card.issue, kyc.record). Any failure (the user name, the
-- account number or the card taken; a value that breaks a check) raises and rolls back all three.
-- The PAN's digest, masked form and the first PIN's hash come from the caller, which alone holds the
-- pepper; the caller chose the PIN and the expiry (the bank's rules, in BankService).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.create_customer_with_account_and_card(
    p_role text, p_actor text, p_ip text, p_device text,
    p_user_name text, p_full_name text,
    p_account_no text, p_account_name text, p_daily_limit bigint, p_daily_count int,
    p_pan_digest bytea, p_pan_masked text, p_pin_hash text, p_expiry date,
    p_date_of_birth date, p_nationality text, p_address text, p_document_type text, p_document_country text,
    p_document_digest bytea, p_document_last4 text, p_politically_exposed boolean, p_screening text,
    p_screening_detail text, p_risk_rating text, p_risk_reasons text[])
RETURNS TABLE (customer_id bigint, account_id bigint, account_no text, card_id bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_customer bigint;
    v_account bigint;
    v_account_no text;
    v_card bigint;
BEGIN
    v_customer := bank.create_customer(p_role, p_actor, p_ip, p_device, p_user_name, p_full_name);
    v_account_no := coalesce(p_account_no, bank.allocate_account_number(p_role));
    v_account := bank.open_account(p_role, p_actor, p_ip, p_device, v_customer, v_account_no, p_account_name,
        p_daily_limit, p_daily_count);
    v_card := bank.issue_card(p_role, p_actor, p_ip, p_device, v_customer, p_pan_digest, p_pan_masked, p_pin_hash,
        p_expiry, ARRAY[v_account_no]);
    PERFORM bank.record_identity(p_role, p_actor, p_ip, p_device, v_customer, p_full_name, p_date_of_birth,
        p_nationality, p_address, p_document_type, p_document_country, p_document_digest, p_document_last4,
        p_politically_exposed, p_screening, p_screening_detail, p_risk_rating, p_risk_reasons);
    RETURN QUERY SELECT v_customer, v_account, v_account_no, v_card;
END
$$;

REVOKE ALL ON FUNCTION bank.create_customer_with_account_and_card(text, text, text, text, text, text, text, text,
    bigint, int, bytea, text, text, date, date, text, text, text, text, bytea, text, boolean, text, text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.create_customer_with_account_and_card(text, text, text, text, text, text, text, text,
    bigint, int, bytea, text, text, date, date, text, text, text, text, bytea, text, boolean, text, text, text, text[]) TO cashpoint_switch;
