-- 0016 (issue 13): administrative operations that make several rows are one SQL function each, so one
-- transaction: a failure at any step leaves nothing behind. The user list is paged in SQL.
--
-- Redefines no function. New: bank.create_customer_with_account_and_card, bank.list_users_page,
-- bank.add_terminal. Drops bank.list_users (it returned every user; bank.list_users_page replaced it).
--
-- Each function below is one block: its definition, its owner, and who may execute it.
SET LOCAL ROLE cashpoint_owner;

-- ---------------------------------------------------------------------------------------------------
-- bank.create_customer_with_account_and_card: CREATE (0600) in one transaction. The customer, the
-- account (its number allocated here when p_account_no is NULL) and the card linked to it, each
-- audited as before (customer.create, account.create, card.issue). Any failure (the user name, the
-- account number or the card taken; a value that breaks a check) raises and rolls back all three.
-- The PAN's digest, masked form and the first PIN's hash come from the caller, which alone holds the
-- pepper; the caller chose the PIN and the expiry (the bank's rules, in BankService).
CREATE OR REPLACE FUNCTION bank.create_customer_with_account_and_card(
    p_role text, p_actor text, p_ip text, p_device text,
    p_user_name text, p_full_name text,
    p_account_no text, p_account_name text, p_daily_limit bigint, p_daily_count int,
    p_pan_digest bytea, p_pan_masked text, p_pin_hash text, p_expiry date)
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
    RETURN QUERY SELECT v_customer, v_account, v_account_no, v_card;
END
$$;
ALTER FUNCTION bank.create_customer_with_account_and_card(text, text, text, text, text, text, text, text, bigint,
    int, bytea, text, text, date) OWNER TO cashpoint_owner;
REVOKE ALL ON FUNCTION bank.create_customer_with_account_and_card(text, text, text, text, text, text, text, text,
    bigint, int, bytea, text, text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.create_customer_with_account_and_card(text, text, text, text, text, text, text, text,
    bigint, int, bytea, text, text, date) TO cashpoint_switch;

-- ---------------------------------------------------------------------------------------------------
-- bank.list_users_page: USERS (0600), one page: p_limit users (1-50) after skipping p_skip, by id, and
-- the number of users in all on every row. A page past the end is one row with the total and NULL
-- user columns, so the count still comes back. Admin only; audited as users.list.
CREATE OR REPLACE FUNCTION bank.list_users_page(
    p_role text, p_actor text, p_ip text, p_device text, p_skip int, p_limit int)
RETURNS TABLE (user_id bigint, user_name text, full_name text, role text, locked boolean, failed_attempts int,
    total bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin']);
    IF p_skip IS NULL OR p_skip < 0 OR p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 50 THEN
        RAISE EXCEPTION 'a page skips 0 or more users and holds 1 to 50' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM bank.audit(p_actor, 'users.list', '00',
        jsonb_build_object('skip', p_skip, 'limit', p_limit), p_ip, p_device);
    RETURN QUERY
    SELECT p.id, p.user_name, p.full_name, p.role, p.locked, p.failed_attempts, c.total
    FROM (SELECT count(*) AS total FROM bank.users) c
    LEFT JOIN LATERAL (
        SELECT u.id, u.user_name, u.full_name, u.role, u.locked, u.failed_attempts
        FROM bank.users u ORDER BY u.id LIMIT p_limit OFFSET p_skip
    ) p ON true
    ORDER BY p.id;
END
$$;
ALTER FUNCTION bank.list_users_page(text, text, text, text, int, int) OWNER TO cashpoint_owner;
REVOKE ALL ON FUNCTION bank.list_users_page(text, text, text, text, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.list_users_page(text, text, text, text, int, int) TO cashpoint_switch;

-- bank.list_users(text, text, text, text) read every user; nothing calls it now.
DROP FUNCTION bank.list_users(text, text, text, text);

-- ---------------------------------------------------------------------------------------------------
-- bank.add_terminal: `atm-switch terminal add` in one transaction: the terminal's internal cash account
-- (terminal_cash for an ATM, teller_drawer for a branch desk), the terminal, and its master key sealed
-- under the switch key with its check value; audited as account.create, terminal.register and
-- terminal.key.set. Any failure (the terminal or the account exists) raises and rolls back all three.
CREATE OR REPLACE FUNCTION bank.add_terminal(
    p_actor text, p_terminal text, p_kind text, p_location text,
    p_cash_account_no text, p_cash_account_name text, p_sealed bytea, p_check text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('atm', 'branch') THEN
        RAISE EXCEPTION 'a terminal is an atm or a branch desk, not %', p_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_sealed IS NULL OR p_check IS NULL THEN
        RAISE EXCEPTION 'a new terminal needs its sealed master key and check value'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- An existing terminal is said as such (its key constraint), not as its cash account being taken.
    IF EXISTS (SELECT 1 FROM bank.terminals t WHERE t.id = p_terminal) THEN
        RAISE EXCEPTION 'terminal % exists already', p_terminal
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'terminals_pkey';
    END IF;
    PERFORM bank.open_internal_account(p_actor, p_cash_account_no, p_cash_account_name,
        CASE p_kind WHEN 'atm' THEN 'terminal_cash' ELSE 'teller_drawer' END);
    PERFORM bank.register_terminal(p_actor, p_terminal, p_kind, p_location, p_cash_account_no);
    IF NOT bank.set_terminal_master_key(p_actor, p_terminal, p_sealed, p_check) THEN
        RAISE EXCEPTION 'terminal % vanished while it was added', p_terminal USING ERRCODE = 'no_data_found';
    END IF;
END
$$;
ALTER FUNCTION bank.add_terminal(text, text, text, text, text, text, bytea, text) OWNER TO cashpoint_owner;
REVOKE ALL ON FUNCTION bank.add_terminal(text, text, text, text, text, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.add_terminal(text, text, text, text, text, text, bytea, text) TO cashpoint_switch;
