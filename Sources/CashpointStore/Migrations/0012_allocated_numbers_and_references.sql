-- 0012 (issue 11): numbers the bank allocates instead of a teller typing them, retrieval reference
-- numbers for the switch's answers, the bank's currency for the switch to check field 49 against, and
-- what a reversal advice must agree with.
--
-- - Account numbers: 'CP' and 10 digits from a sequence, skipping any number already taken (the demo
--   bank and earlier typed numbers use the same form).
-- - Card serials: a sequence; the switch puts its BIN in front and the Luhn check digit behind.
-- - Retrieval references: handed out in blocks of 1,000 (the switch keeps a block in memory), so an
--   answer costs no round trip for its reference.
SET LOCAL ROLE cashpoint_owner;

CREATE SEQUENCE bank.account_numbers START 1000001 MAXVALUE 9999999999 NO CYCLE;
CREATE SEQUENCE bank.card_serials START 1 MAXVALUE 9999999 NO CYCLE;
CREATE SEQUENCE bank.reference_blocks START 1 INCREMENT BY 1000 MAXVALUE 99999999999 CYCLE;

CREATE FUNCTION bank.allocate_account_number(p_role text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_no text;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    LOOP
        v_no := 'CP' || lpad(nextval('bank.account_numbers')::text, 10, '0');
        EXIT WHEN NOT EXISTS (SELECT 1 FROM bank.accounts a WHERE a.account_no = v_no);
    END LOOP;
    RETURN v_no;
END
$$;

CREATE FUNCTION bank.allocate_card_serial(p_role text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    RETURN nextval('bank.card_serials');
END
$$;

-- The first of 1,000 reference numbers no other caller gets (until the sequence wraps at 10^11).
CREATE FUNCTION bank.reserve_references() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT nextval('bank.reference_blocks')
$$;

CREATE FUNCTION bank.bank_currency() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT s.currency::text FROM bank.settings s
$$;

-- The original a reversal advice names (terminal, STAN, transmission time): its kind, amount, answer,
-- request digest, and the customer accounts it was asked for (from the ledger lines when it moved
-- money, else the account the answer was stored against).
CREATE FUNCTION bank.reversal_original(p_terminal text, p_stan text, p_transmitted text)
RETURNS TABLE (kind text, amount bigint, response_code text, request_digest bytea, from_no text, to_no text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
#variable_conflict use_column
BEGIN
    PERFORM bank.set_context('system', NULL);
    RETURN QUERY
    SELECT t.kind::text, t.amount::bigint, t.response_code::text, t.request_digest::bytea,
        coalesce(
            (SELECT a.account_no FROM bank.history h JOIN bank.accounts a ON a.id = h.account_id
             WHERE h.transaction_id = t.id AND a.kind = 'customer' AND h.amount < 0 LIMIT 1),
            (SELECT a.account_no FROM bank.accounts a WHERE a.id = t.account_id AND t.kind <> 'deposit'))::text,
        coalesce(
            (SELECT a.account_no FROM bank.history h JOIN bank.accounts a ON a.id = h.account_id
             WHERE h.transaction_id = t.id AND a.kind = 'customer' AND h.amount > 0 LIMIT 1),
            (SELECT a.account_no FROM bank.accounts a WHERE a.id = t.account_id AND t.kind = 'deposit'))::text
    FROM bank.transactions t
    WHERE t.terminal_id = p_terminal AND t.stan = p_stan AND t.transmitted = p_transmitted
      AND t.kind IN ('withdrawal', 'deposit', 'transfer');
END
$$;

GRANT EXECUTE ON FUNCTION
    bank.allocate_account_number(text),
    bank.allocate_card_serial(text),
    bank.reserve_references(),
    bank.bank_currency(),
    bank.reversal_original(text, text, text)
TO cashpoint_switch;
