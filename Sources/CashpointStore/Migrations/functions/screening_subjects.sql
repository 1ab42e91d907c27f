-- The customers to screen, by id after p_after_id, at most p_limit (1-1000): what screening and the
-- risk rules read (name, date of birth, nationality, the document's country, the PEP flag, the
-- current screening result, the stored rating) and the largest daily withdrawal limit of their accounts (the product
-- rule). p_customer names one customer instead (CREATE's screening, one record). For the screening
-- job ('system') and compliance users; not audited per row (the job audits each result it records).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.screening_subjects(
    p_role text, p_customer bigint, p_after_id bigint, p_limit int
) RETURNS TABLE (user_id bigint, legal_name text, date_of_birth date, nationality text, document_country text,
    politically_exposed boolean, screening text, status text, risk_rating text, largest_daily_limit bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['compliance', 'system']);
    PERFORM set_config('cashpoint.role', 'system', true);
    RETURN QUERY
    SELECT i.user_id, i.legal_name, i.date_of_birth, i.nationality::text, i.document_country::text,
        i.politically_exposed, i.screening, bank.kyc_status(i.user_id), i.risk_rating,
        (SELECT max(a.daily_withdrawal_limit) FROM bank.accounts a WHERE a.user_id = i.user_id AND a.kind = 'customer')
    FROM bank.customer_identities i
    WHERE (p_customer IS NULL OR i.user_id = p_customer) AND (p_after_id IS NULL OR i.user_id > p_after_id)
    ORDER BY i.user_id
    LIMIT least(greatest(p_limit, 1), 1000);
END
$$;

REVOKE ALL ON FUNCTION bank.screening_subjects(text, bigint, bigint, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.screening_subjects(text, bigint, bigint, int) TO cashpoint_switch;
