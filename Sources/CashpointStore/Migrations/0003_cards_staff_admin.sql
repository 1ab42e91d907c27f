-- 0003: cards and PINs, staff log-in, reads (balance, mini-statement) and administration.
SET LOCAL ROLE cashpoint_owner;

-- The installation's settings: set once, before any account exists.
CREATE FUNCTION bank.configure(p_actor text, p_currency text, p_max_pin_tries int, p_max_password_tries int)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    IF EXISTS (SELECT 1 FROM bank.accounts) THEN
        RAISE EXCEPTION 'the bank already has accounts: its settings are fixed' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO bank.settings (currency, max_pin_tries, max_password_tries)
    VALUES (p_currency, p_max_pin_tries, p_max_password_tries)
    ON CONFLICT (singleton) DO UPDATE
        SET currency = excluded.currency, max_pin_tries = excluded.max_pin_tries,
            max_password_tries = excluded.max_password_tries;
    PERFORM bank.audit(p_actor, 'bank.configure', '00',
        jsonb_build_object('currency', p_currency, 'max_pin_tries', p_max_pin_tries,
            'max_password_tries', p_max_password_tries), NULL, NULL);
END
$$;

-- The card with this PAN digest, for the PIN check. System context: the customer is not known yet.
CREATE FUNCTION bank.card_by_digest(p_pan_digest bytea)
RETURNS TABLE (card_id bigint, user_id bigint, pin_hash text, status text, pin_tries int, expiry date,
    max_pin_tries int, pan_masked text, user_locked boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    RETURN QUERY
    SELECT c.id, c.user_id, c.pin_hash, c.status, c.pin_tries, c.expiry, s.max_pin_tries, c.pan_masked, u.locked
    FROM bank.cards c JOIN bank.users u ON u.id = c.user_id CROSS JOIN bank.settings s
    WHERE c.pan_digest = p_pan_digest;
END
$$;

-- The accounts a card may use, default first.
CREATE FUNCTION bank.card_accounts_of(p_card_id bigint)
RETURNS TABLE (account_no text, is_default boolean, is_locked boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    RETURN QUERY
    SELECT a.account_no, ca.is_default, a.is_locked
    FROM bank.card_accounts ca JOIN bank.accounts a ON a.id = ca.account_id
    WHERE ca.card_id = p_card_id
    ORDER BY ca.is_default DESC, a.id;
END
$$;

-- Records a PIN check's result: a right PIN resets the try counter, a wrong one raises it and the
-- last allowed wrong one blocks the card. Answers 00, 55 (wrong) or 75 (blocked: capture the card).
CREATE FUNCTION bank.record_pin_attempt(
    p_card_id bigint, p_ok boolean, p_actor text, p_ip text, p_device text
) RETURNS TABLE (response_code text, pin_tries int, status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_card record;
    v_max int;
    v_code text;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT s.max_pin_tries INTO v_max FROM bank.settings s;
    SELECT c.id, c.pin_tries, c.status INTO v_card FROM bank.cards c WHERE c.id = p_card_id FOR UPDATE;
    IF v_card.id IS NULL THEN
        RAISE EXCEPTION 'no card %', p_card_id USING ERRCODE = 'no_data_found';
    END IF;
    IF v_card.status <> 'active' THEN
        v_code := '75';
    ELSIF p_ok THEN
        v_code := '00';
        IF v_card.pin_tries > 0 THEN
            UPDATE bank.cards c SET pin_tries = 0 WHERE c.id = p_card_id;
            v_card.pin_tries := 0;
        END IF;
    ELSE
        v_card.pin_tries := v_card.pin_tries + 1;
        IF v_card.pin_tries >= v_max THEN
            v_card.status := 'blocked';
            v_code := '75';
        ELSE
            v_code := '55';
        END IF;
        UPDATE bank.cards c SET pin_tries = v_card.pin_tries, status = v_card.status WHERE c.id = p_card_id;
    END IF;
    PERFORM bank.audit(p_actor,
        CASE WHEN p_ok THEN 'pin.right' ELSE 'pin.wrong' END, v_code,
        jsonb_build_object('card', p_card_id, 'tries', v_card.pin_tries), p_ip, p_device);
    IF NOT p_ok AND v_code = '75' AND v_card.pin_tries = v_max THEN
        PERFORM bank.audit(p_actor, 'card.blocked', '75',
            jsonb_build_object('card', p_card_id, 'reason', 'PIN tries exceeded'), p_ip, p_device);
    END IF;
    RETURN QUERY SELECT v_code, v_card.pin_tries, v_card.status;
END
$$;

-- A blocked card is refused without a PIN check; the refusal is audited.
CREATE FUNCTION bank.record_card_refusal(
    p_card_id bigint, p_code text, p_reason text, p_actor text, p_ip text, p_device text
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.audit(p_actor, 'card.refused', p_code,
        jsonb_build_object('card', p_card_id, 'reason', p_reason), p_ip, p_device);
END
$$;

CREATE FUNCTION bank.change_pin(
    p_card_id bigint, p_user_id bigint, p_new_hash text, p_actor text, p_ip text, p_device text
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context('customer', p_user_id);
    UPDATE bank.cards c SET pin_hash = p_new_hash, pin_tries = 0
    WHERE c.id = p_card_id AND c.status = 'active';
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, 'pin.change', CASE WHEN v_count = 1 THEN '00' ELSE '62' END,
        jsonb_build_object('card', p_card_id), p_ip, p_device);
    RETURN CASE WHEN v_count = 1 THEN '00' ELSE '62' END;
END
$$;

-- Balance of one account, in the actor's context (a customer sees only their own). Audited.
CREATE FUNCTION bank.balance(
    p_role text, p_user_id bigint, p_card_id bigint, p_account_no text, p_actor text, p_ip text, p_device text
) RETURNS TABLE (response_code text, balance bigint, currency text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_account record;
    v_code text := '00';
BEGIN
    PERFORM bank.set_context(p_role, p_user_id);
    SELECT a.id, a.balance, a.currency, a.kind, a.is_locked INTO v_account
    FROM bank.accounts a WHERE a.account_no = p_account_no;
    IF v_account.id IS NULL OR (p_role = 'customer' AND v_account.kind <> 'customer') THEN
        v_code := '76';
    ELSIF p_card_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM bank.card_accounts ca WHERE ca.card_id = p_card_id AND ca.account_id = v_account.id) THEN
        v_code := '57';
    END IF;
    PERFORM bank.audit(p_actor, 'balance', v_code, jsonb_build_object('account', p_account_no), p_ip, p_device);
    IF v_code = '00' THEN
        RETURN QUERY SELECT v_code, v_account.balance, v_account.currency::text;
    ELSE
        RETURN QUERY SELECT v_code, NULL::bigint, NULL::text;
    END IF;
END
$$;

-- The last p_count ledger lines of one account, newest first. Audited.
CREATE FUNCTION bank.mini_statement(
    p_role text, p_user_id bigint, p_card_id bigint, p_account_no text, p_count int,
    p_actor text, p_ip text, p_device text
) RETURNS TABLE (response_code text, line_id bigint, at timestamptz, kind text, amount bigint, balance_after bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_account record;
    v_code text := '00';
BEGIN
    PERFORM bank.set_context(p_role, p_user_id);
    SELECT a.id, a.kind INTO v_account FROM bank.accounts a WHERE a.account_no = p_account_no;
    IF v_account.id IS NULL OR (p_role = 'customer' AND v_account.kind <> 'customer') THEN
        v_code := '76';
    ELSIF p_card_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM bank.card_accounts ca WHERE ca.card_id = p_card_id AND ca.account_id = v_account.id) THEN
        v_code := '57';
    END IF;
    PERFORM bank.audit(p_actor, 'statement', v_code, jsonb_build_object('account', p_account_no), p_ip, p_device);
    IF v_code <> '00' THEN
        RETURN QUERY SELECT v_code, NULL::bigint, NULL::timestamptz, NULL::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT v_code, h.line_no, h.created_at, t.kind, h.amount, h.balance_after
    FROM bank.history h JOIN bank.transactions t ON t.id = h.transaction_id
    WHERE h.account_id = v_account.id
    ORDER BY h.line_no DESC
    LIMIT greatest(1, least(p_count, 50));
END
$$;

-- Staff log-in: the user's hash and state, then the result recorded (5 wrong in a row lock).
CREATE FUNCTION bank.staff_by_name(p_user_name text)
RETURNS TABLE (user_id bigint, role text, password_hash text, locked boolean, failed_attempts int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    RETURN QUERY SELECT u.id, u.role, u.password_hash, u.locked, u.failed_attempts
    FROM bank.users u WHERE u.user_name = p_user_name AND u.role IN ('teller', 'admin');
END
$$;

CREATE FUNCTION bank.record_login(p_user_id bigint, p_ok boolean, p_actor text, p_ip text, p_device text)
RETURNS TABLE (response_code text, failed_attempts int, locked boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_user record;
    v_max int;
    v_code text;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT s.max_password_tries INTO v_max FROM bank.settings s;
    SELECT u.id, u.failed_attempts, u.locked INTO v_user FROM bank.users u WHERE u.id = p_user_id FOR UPDATE;
    IF v_user.id IS NULL THEN
        RAISE EXCEPTION 'no user %', p_user_id USING ERRCODE = 'no_data_found';
    END IF;
    IF v_user.locked THEN
        v_code := '62';
    ELSIF p_ok THEN
        v_code := '00';
        IF v_user.failed_attempts > 0 THEN
            UPDATE bank.users u SET failed_attempts = 0 WHERE u.id = p_user_id;
            v_user.failed_attempts := 0;
        END IF;
    ELSE
        v_user.failed_attempts := v_user.failed_attempts + 1;
        v_user.locked := v_user.failed_attempts >= v_max;
        v_code := CASE WHEN v_user.locked THEN '62' ELSE '55' END;
        UPDATE bank.users u SET failed_attempts = v_user.failed_attempts, locked = v_user.locked
        WHERE u.id = p_user_id;
    END IF;
    PERFORM bank.audit(p_actor, CASE WHEN p_ok THEN 'login.right' ELSE 'login.wrong' END, v_code,
        jsonb_build_object('user', p_user_id, 'failed', v_user.failed_attempts), p_ip, p_device);
    IF NOT p_ok AND v_user.locked AND v_user.failed_attempts = v_max THEN
        PERFORM bank.audit(p_actor, 'user.locked', '62',
            jsonb_build_object('user', p_user_id, 'reason', 'password tries exceeded'), p_ip, p_device);
    END IF;
    RETURN QUERY SELECT v_code, v_user.failed_attempts, v_user.locked;
END
$$;

-- Administration. Each checks the actor's role itself (the SQL layer of the permission table).
CREATE FUNCTION bank.create_customer(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_full_name text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    INSERT INTO bank.users (user_name, full_name, role) VALUES (p_user_name, p_full_name, 'customer')
    RETURNING id INTO v_id;
    PERFORM bank.audit(p_actor, 'customer.create', '00',
        jsonb_build_object('user', v_id, 'user_name', p_user_name), p_ip, p_device);
    RETURN v_id;
END
$$;

CREATE FUNCTION bank.create_staff(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_full_name text,
    p_staff_role text, p_password_hash text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin', 'system']);
    IF p_staff_role NOT IN ('teller', 'admin') THEN
        RAISE EXCEPTION 'staff are tellers or admins' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO bank.users (user_name, full_name, role, password_hash)
    VALUES (p_user_name, p_full_name, p_staff_role, p_password_hash)
    RETURNING id INTO v_id;
    PERFORM bank.audit(p_actor, 'staff.create', '00',
        jsonb_build_object('user', v_id, 'user_name', p_user_name, 'role', p_staff_role), p_ip, p_device);
    RETURN v_id;
END
$$;

CREATE FUNCTION bank.open_account(
    p_role text, p_actor text, p_ip text, p_device text, p_user_id bigint, p_account_no text, p_name text,
    p_daily_limit bigint, p_daily_count int
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    IF p_account_no IS NULL OR p_account_no !~ '^[A-Z0-9]{4,28}$' THEN
        RAISE EXCEPTION 'an account number is 4-28 capital letters and digits' USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM bank.users u WHERE u.id = p_user_id AND u.role = 'customer') THEN
        RAISE EXCEPTION 'no customer %', p_user_id USING ERRCODE = 'foreign_key_violation';
    END IF;
    INSERT INTO bank.accounts (account_no, name, kind, user_id, currency, daily_withdrawal_limit, daily_withdrawal_count)
    SELECT p_account_no, p_name, 'customer', p_user_id, s.currency,
        coalesce(p_daily_limit, 100000), coalesce(p_daily_count, 10)
    FROM bank.settings s
    RETURNING id INTO v_id;
    PERFORM bank.audit(p_actor, 'account.create', '00',
        jsonb_build_object('account', p_account_no, 'user', p_user_id), p_ip, p_device);
    RETURN v_id;
END
$$;

CREATE FUNCTION bank.open_internal_account(
    p_actor text, p_account_no text, p_name text, p_kind text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
BEGIN
    PERFORM bank.set_context('system', NULL);
    IF p_kind NOT IN ('terminal_cash', 'teller_drawer', 'bank_equity') THEN
        RAISE EXCEPTION 'not an internal account kind: %', p_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_account_no IS NULL OR p_account_no !~ '^[A-Z0-9]{4,28}$' THEN
        RAISE EXCEPTION 'an account number is 4-28 capital letters and digits' USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO bank.accounts (account_no, name, kind, currency)
    SELECT p_account_no, p_name, p_kind, s.currency FROM bank.settings s
    RETURNING id INTO v_id;
    PERFORM bank.audit(p_actor, 'account.create', '00',
        jsonb_build_object('account', p_account_no, 'kind', p_kind), NULL, NULL);
    RETURN v_id;
END
$$;

CREATE FUNCTION bank.register_terminal(
    p_actor text, p_terminal text, p_kind text, p_location text, p_cash_account_no text
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context('system', NULL);
    INSERT INTO bank.terminals (id, kind, location, cash_account_id)
    SELECT p_terminal, p_kind, p_location, a.id FROM bank.accounts a
    WHERE a.account_no = p_cash_account_no AND a.kind IN ('terminal_cash', 'teller_drawer');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no internal cash account %', p_cash_account_no USING ERRCODE = 'foreign_key_violation';
    END IF;
    PERFORM bank.audit(p_actor, 'terminal.register', '00',
        jsonb_build_object('terminal', p_terminal, 'kind', p_kind), NULL, NULL);
END
$$;

CREATE FUNCTION bank.issue_card(
    p_role text, p_actor text, p_ip text, p_device text, p_user_id bigint, p_pan_digest bytea,
    p_pan_masked text, p_pin_hash text, p_expiry date, p_account_nos text[]
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
    v_linked int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    INSERT INTO bank.cards (pan_digest, pan_masked, user_id, pin_hash, expiry)
    VALUES (p_pan_digest, p_pan_masked, p_user_id, p_pin_hash, p_expiry)
    RETURNING id INTO v_id;
    INSERT INTO bank.card_accounts (card_id, account_id, is_default)
    SELECT v_id, a.id, a.account_no = p_account_nos[1]
    FROM bank.accounts a
    WHERE a.account_no = ANY (p_account_nos) AND a.user_id = p_user_id;
    GET DIAGNOSTICS v_linked = ROW_COUNT;
    IF v_linked <> cardinality(p_account_nos) THEN
        RAISE EXCEPTION 'a card links only accounts of its own customer' USING ERRCODE = 'foreign_key_violation';
    END IF;
    PERFORM bank.audit(p_actor, 'card.issue', '00',
        jsonb_build_object('card', v_id, 'pan', p_pan_masked, 'user', p_user_id), p_ip, p_device);
    RETURN v_id;
END
$$;

-- Opening balances: the bank's equity account against the customer's, balanced like any posting.
CREATE FUNCTION bank.post_opening(p_actor text, p_account_no text, p_amount bigint, p_equity_no text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_txn bigint;
    v_row record;
    v_new bigint;
    v_line_no bigint;
BEGIN
    PERFORM bank.set_context('system', NULL);
    INSERT INTO bank.transactions (terminal_id, stan, transmitted, request_digest, kind, amount, response_code, actor)
    VALUES ('SEED', lpad((SELECT count(*) + 1 FROM bank.transactions WHERE kind = 'opening')::text, 6, '0'),
        '0000000000', '\x00'::bytea, 'opening', p_amount, '00', p_actor)
    RETURNING id INTO v_txn;
    FOR v_row IN
        SELECT a.id, CASE WHEN a.account_no = p_account_no THEN p_amount ELSE -p_amount END AS amount
        FROM bank.accounts a WHERE a.account_no IN (p_account_no, p_equity_no) ORDER BY a.id FOR UPDATE
    LOOP
        UPDATE bank.accounts a SET balance = a.balance + v_row.amount, line_count = a.line_count + 1
        WHERE a.id = v_row.id
        RETURNING a.balance, a.line_count INTO v_new, v_line_no;
        INSERT INTO bank.history (transaction_id, account_id, line_no, amount, balance_after)
        VALUES (v_txn, v_row.id, v_line_no, v_row.amount, v_new);
    END LOOP;
    PERFORM bank.audit(p_actor, 'account.opening', '00',
        jsonb_build_object('account', p_account_no, 'amount', p_amount, 'txn', v_txn), NULL, NULL);
    RETURN v_txn;
END
$$;

CREATE FUNCTION bank.set_account_locked(
    p_role text, p_actor text, p_ip text, p_device text, p_account_no text, p_locked boolean
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin']);
    UPDATE bank.accounts a SET is_locked = p_locked, failed_attempts = CASE WHEN p_locked THEN a.failed_attempts ELSE 0 END
    WHERE a.account_no = p_account_no AND a.kind = 'customer';
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, CASE WHEN p_locked THEN 'account.lock' ELSE 'account.unlock' END,
        CASE WHEN v_count = 1 THEN '00' ELSE '76' END, jsonb_build_object('account', p_account_no), p_ip, p_device);
    RETURN v_count = 1;
END
$$;

-- Card status by staff: 'active' (unblock, try counter reset), 'blocked', 'captured', 'closed'.
CREATE FUNCTION bank.set_card_status(
    p_role text, p_actor text, p_ip text, p_device text, p_pan_digest bytea, p_status text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin']);
    UPDATE bank.cards c SET status = p_status, pin_tries = CASE WHEN p_status = 'active' THEN 0 ELSE c.pin_tries END
    WHERE c.pan_digest = p_pan_digest;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, CASE WHEN p_status = 'active' THEN 'card.unlock' ELSE 'card.' || p_status END,
        CASE WHEN v_count = 1 THEN '00' ELSE '14' END, jsonb_build_object('status', p_status), p_ip, p_device);
    RETURN v_count = 1;
END
$$;

CREATE FUNCTION bank.unlock_user(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin']);
    UPDATE bank.users u SET locked = false, failed_attempts = 0 WHERE u.user_name = p_user_name;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, 'user.unlock', CASE WHEN v_count = 1 THEN '00' ELSE '14' END,
        jsonb_build_object('user_name', p_user_name), p_ip, p_device);
    RETURN v_count = 1;
END
$$;

CREATE FUNCTION bank.change_role(
    p_role text, p_actor text, p_ip text, p_device text, p_user_name text, p_new_role text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin']);
    UPDATE bank.users u SET role = p_new_role
    WHERE u.user_name = p_user_name AND u.role <> 'customer' AND p_new_role IN ('teller', 'admin');
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, 'user.role', CASE WHEN v_count = 1 THEN '00' ELSE '12' END,
        jsonb_build_object('user_name', p_user_name, 'role', p_new_role), p_ip, p_device);
    RETURN v_count = 1;
END
$$;

CREATE FUNCTION bank.list_users(p_role text, p_actor text, p_ip text, p_device text)
RETURNS TABLE (user_id bigint, user_name text, full_name text, role text, locked boolean, failed_attempts int)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin']);
    PERFORM bank.audit(p_actor, 'users.list', '00', '{}'::jsonb, p_ip, p_device);
    RETURN QUERY SELECT u.id, u.user_name, u.full_name, u.role, u.locked, u.failed_attempts
    FROM bank.users u ORDER BY u.id;
END
$$;

-- The audit log, newest first, filtered by actor, action and time, paged by id.
CREATE FUNCTION bank.read_audit(
    p_role text, p_actor text, p_ip text, p_device text,
    p_filter_actor text, p_filter_action text, p_since timestamptz, p_until timestamptz,
    p_before_id bigint, p_limit int
) RETURNS TABLE (id bigint, at timestamptz, actor text, action text, outcome text, details jsonb, ip text, device text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['admin']);
    PERFORM bank.audit(p_actor, 'audit.read', '00',
        jsonb_build_object('actor', p_filter_actor, 'action', p_filter_action, 'before', p_before_id), p_ip, p_device);
    RETURN QUERY
    SELECT l.id, l.at, l.actor, l.action, l.outcome, l.details, l.ip, l.device
    FROM bank.audit_logs l
    WHERE (p_filter_actor IS NULL OR l.actor = p_filter_actor)
      AND (p_filter_action IS NULL OR l.action = p_filter_action)
      AND (p_since IS NULL OR l.at >= p_since)
      AND (p_until IS NULL OR l.at < p_until)
      AND (p_before_id IS NULL OR l.id < p_before_id)
    ORDER BY l.id DESC
    LIMIT greatest(1, least(coalesce(p_limit, 50), 500));
END
$$;
