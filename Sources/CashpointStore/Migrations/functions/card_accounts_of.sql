-- The accounts a card may use, default first.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.card_accounts_of(p_card_id bigint)
RETURNS TABLE (account_no text, is_default boolean, is_locked boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    RETURN QUERY
    SELECT a.account_no::text, ca.is_default, a.is_locked
    FROM bank.card_accounts ca JOIN bank.accounts a ON a.id = ca.account_id
    WHERE ca.card_id = p_card_id
    ORDER BY ca.is_default DESC, a.id;
END
$$;

REVOKE ALL ON FUNCTION bank.card_accounts_of(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.card_accounts_of(bigint) TO cashpoint_switch;
