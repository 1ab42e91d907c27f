-- A customer's identity, recorded at CREATE (in its transaction) or by the seeder: the facts, the
-- document as a keyed digest and its last 4 (the caller alone holds the pepper), the screening result
-- and the risk rating with its reasons (CashpointBank.KYCRisk). The customer starts 'pending': only a
-- compliance user verifies (bank.decide_kyc). The seeder ('system') may record a customer as verified
-- with a review date (p_review_due), as the demo bank's fixtures are. Audited without the document.
-- A screening hit opens a case for the customer (bank.open_screening_case), in the same transaction.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.record_identity(
    p_role text, p_actor text, p_ip text, p_device text, p_user_id bigint,
    p_legal_name text, p_date_of_birth date, p_nationality text, p_address text,
    p_document_type text, p_document_country text, p_document_digest bytea, p_document_last4 text,
    p_politically_exposed boolean, p_screening text, p_screening_detail text,
    p_risk_rating text, p_risk_reasons text[], p_review_due date DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_status text := CASE WHEN p_role = 'system' AND p_review_due IS NOT NULL THEN 'verified' ELSE 'pending' END;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    IF NOT EXISTS (SELECT 1 FROM bank.users u WHERE u.id = p_user_id AND u.role = 'customer') THEN
        RAISE EXCEPTION 'no customer %', p_user_id USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO bank.customer_identities (user_id, legal_name, date_of_birth, nationality, address, document_type,
        document_country, document_digest, document_last4, politically_exposed, screening, screening_detail,
        screened_at, status, review_due, risk_rating, risk_reasons, decided_by, decided_at)
    VALUES (p_user_id, p_legal_name, p_date_of_birth, p_nationality, p_address, p_document_type,
        p_document_country, p_document_digest, p_document_last4, p_politically_exposed, p_screening,
        p_screening_detail, CASE WHEN p_screening <> 'not_screened' THEN now() END, v_status,
        CASE WHEN v_status = 'verified' THEN p_review_due END, p_risk_rating, p_risk_reasons,
        CASE WHEN v_status = 'verified' THEN p_actor END, CASE WHEN v_status = 'verified' THEN now() END);
    PERFORM bank.audit(p_actor, 'kyc.record', '00',
        jsonb_build_object('user', p_user_id, 'status', v_status, 'risk', p_risk_rating, 'screening', p_screening),
        p_ip, p_device);
    IF p_screening = 'hit' THEN
        PERFORM bank.open_screening_case(p_user_id, p_screening_detail, p_ip, p_device);
    END IF;
    RETURN v_status;
END
$$;

REVOKE ALL ON FUNCTION bank.record_identity(text, text, text, text, bigint, text, date, text, text, text, text, bytea,
    text, boolean, text, text, text, text[], date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.record_identity(text, text, text, text, bigint, text, date, text, text, text, text, bytea,
    text, boolean, text, text, text, text[], date) TO cashpoint_switch;
