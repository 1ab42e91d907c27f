-- KYC (0600): one customer's KYC record for a compliance user or an administrator: the identity
-- (the document only as type, country and last 4), the status as the gate reads it (expired computed),
-- the risk rating and its reasons, the screening result and the last decision. No row: no such
-- customer or no identity recorded. Every reading is audited (it shows personal data).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.customer_kyc(p_role text, p_actor text, p_ip text, p_device text, p_customer bigint)
RETURNS TABLE (user_name text, legal_name text, date_of_birth date, nationality text, address text,
    document_type text, document_country text, document_last4 text, politically_exposed boolean,
    screening text, screening_detail text, status text, review_due date, risk_rating text, risk_reasons text[],
    decided_by text, decided_at timestamptz, decision_reason text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['compliance', 'admin']);
    RETURN QUERY
    SELECT u.user_name, i.legal_name, i.date_of_birth, i.nationality::text, i.address, i.document_type,
        i.document_country::text, i.document_last4, i.politically_exposed, i.screening, i.screening_detail,
        bank.kyc_status(i.user_id), i.review_due, i.risk_rating, i.risk_reasons, i.decided_by, i.decided_at,
        i.decision_reason
    FROM bank.customer_identities i JOIN bank.users u ON u.id = i.user_id
    WHERE i.user_id = p_customer;
    PERFORM bank.audit(p_actor, 'kyc.view', CASE WHEN FOUND THEN '00' ELSE '12' END,
        jsonb_build_object('user', p_customer), p_ip, p_device);
END
$$;

REVOKE ALL ON FUNCTION bank.customer_kyc(text, text, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.customer_kyc(text, text, text, text, bigint) TO cashpoint_switch;
