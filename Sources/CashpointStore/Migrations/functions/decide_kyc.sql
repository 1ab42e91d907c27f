-- VERIFY (0600): a compliance user decides a customer's KYC: 'verified' (with a review date
-- p_review_months on from today, by the customer's rating: CashpointBank.KYCRisk) or 'rejected', with a
-- reason. Verifying a customer rated high is four eyes: only as an approved 'kyc.verify' change
-- (SQLSTATE CPHLD otherwise: the bank holds it; a second compliance user approves it, and
-- bank.approve_change calls this again). Rejecting is never held (it is the safe direction).
-- 12: no identity recorded for the customer. Audited as kyc.verified / kyc.rejected.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.decide_kyc(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text,
    p_customer bigint, p_decision text, p_reason text, p_review_months int
) RETURNS TABLE (response_code text, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_identity bank.customer_identities%ROWTYPE;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['compliance']);
    IF p_decision IS NULL OR p_decision NOT IN ('verified', 'rejected') THEN
        RAISE EXCEPTION 'a KYC decision is verified or rejected' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_identity FROM bank.customer_identities i WHERE i.user_id = p_customer FOR UPDATE;
    IF v_identity.user_id IS NULL THEN
        PERFORM bank.audit(p_actor, 'kyc.' || p_decision, '12',
            jsonb_build_object('user', p_customer, 'reason', 'no identity recorded'), p_ip, p_device);
        RETURN QUERY SELECT '12'::text, 'no identity recorded'::text;
        RETURN;
    END IF;
    IF p_decision = 'verified' AND v_identity.risk_rating = 'high' THEN
        PERFORM bank.require_approved_change('kyc.verify', p_customer::text);
    END IF;
    UPDATE bank.customer_identities i SET status = p_decision,
        review_due = CASE WHEN p_decision = 'verified' THEN current_date + make_interval(months => p_review_months) END,
        decided_by = p_actor, decided_at = now(), decision_reason = p_reason
    WHERE i.user_id = p_customer;
    PERFORM bank.audit(p_actor, 'kyc.' || p_decision, '00',
        jsonb_build_object('user', p_customer, 'risk', v_identity.risk_rating, 'was', v_identity.status,
            'reason', p_reason), p_ip, p_device);
    RETURN QUERY SELECT '00'::text, NULL::text;
END
$$;

REVOKE ALL ON FUNCTION bank.decide_kyc(text, bigint, text, text, text, bigint, text, text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.decide_kyc(text, bigint, text, text, text, bigint, text, text, int) TO cashpoint_switch;
