-- The card with this PAN digest, for the PIN check: its PIN hash and try counter, and its state as
-- facts (status, past its expiry by the database's date, its customer locked), from which
-- CashpointBank.CardRules answers. System context: the customer is not known yet.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.card_by_digest(p_pan_digest bytea)
RETURNS TABLE (card_id bigint, user_id bigint, pin_hash text, status text, pin_tries int, expired boolean,
    max_pin_tries int, pan_masked text, user_locked boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    RETURN QUERY
    SELECT c.id, c.user_id, c.pin_hash, c.status, c.pin_tries, c.expiry < current_date, s.max_pin_tries,
        c.pan_masked, u.locked
    FROM bank.cards c JOIN bank.users u ON u.id = c.user_id CROSS JOIN bank.settings s
    WHERE c.pan_digest = p_pan_digest;
END
$$;

REVOKE ALL ON FUNCTION bank.card_by_digest(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.card_by_digest(bytea) TO cashpoint_switch;
