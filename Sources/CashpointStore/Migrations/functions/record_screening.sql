-- A sanctions screening result for a customer (the screening job, as 'system', or a compliance user):
-- the result and its detail, and the risk rating and reasons recomputed with it by the caller
-- (CashpointBank.KYCRisk). A hit holds the customer: a verified customer becomes 'pending' again
-- until a compliance user decides, and opens (or notes on) the customer's case (bank.open_screening_case).
-- A clear result leaves the status as it is: a customer held by an earlier hit stays pending until a
-- compliance user decides. Answers the status after; NULL when no identity is recorded.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.record_screening(
    p_role text, p_actor text, p_ip text, p_device text, p_customer bigint,
    p_screening text, p_detail text, p_risk_rating text, p_risk_reasons text[]
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_status text;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['compliance', 'system']);
    UPDATE bank.customer_identities i SET screening = p_screening, screening_detail = p_detail, screened_at = now(),
        risk_rating = p_risk_rating, risk_reasons = p_risk_reasons,
        status = CASE WHEN p_screening = 'hit' AND i.status = 'verified' THEN 'pending' ELSE i.status END,
        review_due = CASE WHEN p_screening = 'hit' THEN NULL ELSE i.review_due END
    WHERE i.user_id = p_customer
    RETURNING i.status INTO v_status;
    PERFORM bank.audit(p_actor, 'kyc.screened', CASE WHEN v_status IS NULL THEN '12' ELSE '00' END,
        jsonb_build_object('user', p_customer, 'screening', p_screening, 'risk', p_risk_rating, 'status', v_status),
        p_ip, p_device);
    IF p_screening = 'hit' AND v_status IS NOT NULL THEN
        PERFORM bank.open_screening_case(p_customer, p_detail, p_ip, p_device);
    END IF;
    RETURN v_status;
END
$$;

REVOKE ALL ON FUNCTION bank.record_screening(text, text, text, text, bigint, text, text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.record_screening(text, text, text, text, bigint, text, text, text, text[])
    TO cashpoint_switch;
