-- A customer's KYC status as the rules read it: 'unrecorded' (no identity recorded: a customer made
-- before migration 0023), 'pending', 'verified', 'rejected', or 'expired' (verified, and the review date
-- has passed: computed here, never stored, so it needs no job to set it).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.kyc_status(p_user_id bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, bank AS $$
    SELECT coalesce((
        SELECT CASE WHEN i.status = 'verified' AND i.review_due < current_date THEN 'expired' ELSE i.status END
        FROM bank.customer_identities i WHERE i.user_id = p_user_id), 'unrecorded')
$$;

REVOKE ALL ON FUNCTION bank.kyc_status(bigint) FROM PUBLIC;
