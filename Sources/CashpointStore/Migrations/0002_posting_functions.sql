-- 0002: the functions the switch may call. Each runs as cashpoint_owner (SECURITY DEFINER) with a
-- fixed search_path, sets the transaction's row-level-security context first, checks the actor's
-- role again (the second layer under the switch's permission table), and writes its audit row in
-- the same transaction as the action.
SET LOCAL ROLE cashpoint_owner;

CREATE FUNCTION bank.set_context(p_role text, p_user_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
BEGIN
    IF p_role IS NULL OR p_role NOT IN ('customer', 'teller', 'admin', 'system') THEN
        RAISE EXCEPTION 'unknown role %', p_role USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_role = 'customer' AND p_user_id IS NULL THEN
        RAISE EXCEPTION 'a customer context needs its user' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('cashpoint.role', p_role, true);
    PERFORM set_config('cashpoint.user_id', coalesce(p_user_id::text, ''), true);
END
$$;

-- Refuses (SQLSTATE 42501) unless the context's role is one of those allowed.
CREATE FUNCTION bank.require_role(p_allowed text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
BEGIN
    IF NOT bank.context_role() = ANY (p_allowed) THEN
        RAISE EXCEPTION 'role % may not do this', bank.context_role() USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE FUNCTION bank.audit(
    p_actor text, p_action text, p_outcome text, p_details jsonb, p_ip text, p_device text
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    INSERT INTO bank.audit_logs (actor, action, outcome, details, ip, device)
    VALUES (p_actor, p_action, p_outcome, coalesce(p_details, '{}'::jsonb), p_ip, p_device)
    RETURNING id
$$;

-- A money movement: withdrawal (from -> terminal cash), deposit (terminal cash -> to) or transfer
-- (from -> to). One call is one SQL transaction:
--   1. the idempotency key (terminal, STAN, transmission time): a repeat with the same digest gets
--      the stored answer and posts nothing; the same key with another digest gets 94;
--   2. every account touched is locked in ascending id order (no two postings can deadlock);
--   3. funds, locks and limits are checked and mapped to a response code;
--   4. the answer is stored under the key; if approved, balanced lines are written, each with the
--      balance after it, and the audit row, all in one statement.
-- A concurrent duplicate that claims the key first makes this call fail on
-- transactions_idempotency_key (23505); the caller retries and gets the stored answer.
CREATE FUNCTION bank.post(
    p_role text, p_user_id bigint, p_card_id bigint, p_actor text, p_ip text, p_device text,
    p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_kind text, p_amount bigint, p_from text, p_to text
) RETURNS TABLE (response_code text, transaction_id bigint, balance_after bigint, auth_code text, replayed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_cash_id bigint;
    v_terminal_enabled boolean;
    v_currency char(3);
    v_from bank.accounts%ROWTYPE;
    v_to bank.accounts%ROWTYPE;
    v_cash bank.accounts%ROWTYPE;
    v_account bank.accounts%ROWTYPE;
    v_existing record;
    v_code text := '00';
    v_txn bigint;
    v_balance bigint;
    v_auth text;
    v_customer_account bigint;
    v_debit_id bigint;
    v_credit_id bigint;
    v_today date := current_date;
BEGIN
    IF p_role IS NULL OR p_role NOT IN ('customer', 'teller', 'admin') THEN
        RAISE EXCEPTION 'role % does not move money', p_role USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_role = 'customer' AND p_user_id IS NULL THEN
        RAISE EXCEPTION 'a customer context needs its user' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('withdrawal', 'deposit', 'transfer') THEN
        RAISE EXCEPTION 'unknown posting kind %', p_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('cashpoint.role', p_role, true), set_config('cashpoint.user_id', coalesce(p_user_id::text, ''), true);

    -- 1. Idempotency: a repeat gets the stored answer (or 94) and posts nothing.
    SELECT t.id, t.request_digest, t.response_code, t.balance_after, t.auth_code INTO v_existing
    FROM bank.transactions t
    WHERE t.terminal_id = p_terminal AND t.stan = p_stan AND t.transmitted = p_transmitted;
    IF FOUND THEN
        IF v_existing.request_digest = p_digest THEN
            INSERT INTO bank.audit_logs (actor, action, outcome, details, ip, device)
            VALUES (p_actor, p_kind, v_existing.response_code,
                jsonb_build_object('replay_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            response_code := v_existing.response_code;
            transaction_id := v_existing.id;
            balance_after := v_existing.balance_after;
            auth_code := v_existing.auth_code;
            replayed := true;
        ELSE
            INSERT INTO bank.audit_logs (actor, action, outcome, details, ip, device)
            VALUES (p_actor, p_kind, '94',
                jsonb_build_object('duplicate_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan,
                    'reason', 'same key, different content'), p_ip, p_device);
            response_code := '94';
            transaction_id := v_existing.id;
            balance_after := NULL;
            auth_code := NULL;
            replayed := false;
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT t.cash_account_id, t.enabled, s.currency INTO v_cash_id, v_terminal_enabled, v_currency
    FROM bank.settings s LEFT JOIN bank.terminals t ON t.id = p_terminal;
    IF v_cash_id IS NULL OR NOT v_terminal_enabled THEN
        v_code := '58';
    ELSIF p_amount IS NULL OR p_amount <= 0 OR p_amount > 999999999999 THEN
        v_code := '13';
    END IF;

    IF v_code = '00' THEN
        FOR v_account IN
            SELECT a.* FROM bank.accounts a
            WHERE a.account_no = ANY (CASE p_kind WHEN 'withdrawal' THEN ARRAY[p_from]
                                                  WHEN 'deposit' THEN ARRAY[p_to]
                                                  ELSE ARRAY[p_from, p_to] END)
               OR a.id = CASE WHEN p_kind <> 'transfer' THEN v_cash_id END
            ORDER BY a.id
            FOR UPDATE
        LOOP
            IF p_kind <> 'deposit' AND v_account.account_no = p_from THEN v_from := v_account; END IF;
            IF p_kind <> 'withdrawal' AND v_account.account_no = p_to THEN v_to := v_account; END IF;
            IF p_kind <> 'transfer' AND v_account.id = v_cash_id THEN v_cash := v_account; END IF;
        END LOOP;

        IF p_kind <> 'deposit' AND (v_from.id IS NULL OR v_from.kind <> 'customer') THEN
            v_code := '76';
        ELSIF p_kind <> 'withdrawal' AND (v_to.id IS NULL OR (p_kind = 'deposit' AND v_to.kind <> 'customer')) THEN
            v_code := '77';
        ELSIF p_kind <> 'transfer' AND v_cash.id IS NULL THEN
            v_code := '58';
        ELSIF p_kind = 'transfer' AND v_from.id = v_to.id THEN
            v_code := '12';
        ELSIF (v_from.id IS NOT NULL AND v_from.currency <> v_currency)
           OR (v_to.id IS NOT NULL AND v_to.currency <> v_currency) THEN
            v_code := '12';
        ELSIF (v_from.id IS NOT NULL AND v_from.is_locked) OR (v_to.id IS NOT NULL AND v_to.is_locked) THEN
            v_code := '62';
        ELSIF p_card_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM bank.card_accounts ca
            WHERE ca.card_id = p_card_id
              AND ca.account_id = CASE WHEN p_kind = 'deposit' THEN v_to.id ELSE v_from.id END
        ) THEN
            v_code := '57';
        ELSIF p_role = 'customer' AND p_kind = 'transfer' AND v_to.user_id IS DISTINCT FROM p_user_id THEN
            v_code := '57';
        ELSIF p_kind <> 'deposit' AND v_from.balance < p_amount THEN
            v_code := '51';
        ELSIF p_kind = 'withdrawal' AND p_role = 'customer'
              AND (CASE WHEN v_from.limits_day = v_today THEN v_from.withdrawn_today ELSE 0 END) + p_amount
                  > v_from.daily_withdrawal_limit THEN
            v_code := '61';
        ELSIF p_kind = 'withdrawal' AND p_role = 'customer'
              AND (CASE WHEN v_from.limits_day = v_today THEN v_from.withdrawals_today ELSE 0 END) + 1
                  > v_from.daily_withdrawal_count THEN
            v_code := '65';
        END IF;
    END IF;

    v_customer_account := CASE WHEN p_kind = 'deposit' THEN v_to.id ELSE v_from.id END;
    v_balance := CASE WHEN p_kind = 'deposit' THEN v_to.balance ELSE v_from.balance END;
    IF v_code = '00' THEN
        v_balance := CASE WHEN p_kind = 'deposit' THEN v_balance + p_amount ELSE v_balance - p_amount END;
        v_auth := upper(substr(md5(random()::text || clock_timestamp()::text), 1, 6));
        v_debit_id := CASE p_kind WHEN 'deposit' THEN v_cash.id ELSE v_from.id END;
        v_credit_id := CASE p_kind WHEN 'withdrawal' THEN v_cash.id ELSE v_to.id END;
    END IF;

    -- 4. The answer under the key, the balanced lines (each with the balance after it) and the audit
    --    row, in one statement. Lines are written in ascending account id order, like the locks.
    WITH txn AS (
        INSERT INTO bank.transactions AS t (terminal_id, stan, transmitted, request_digest, kind, amount,
            response_code, auth_code, account_id, balance_after, actor)
        VALUES (p_terminal, p_stan, p_transmitted, p_digest, p_kind, greatest(coalesce(p_amount, 0), 0),
            v_code, v_auth, v_customer_account, v_balance, p_actor)
        RETURNING t.id
    ), moved AS (
        UPDATE bank.accounts a
        SET balance = a.balance + d.delta,
            withdrawn_today = CASE WHEN d.counts THEN CASE WHEN a.limits_day = v_today THEN a.withdrawn_today ELSE 0 END + p_amount ELSE a.withdrawn_today END,
            withdrawals_today = CASE WHEN d.counts THEN CASE WHEN a.limits_day = v_today THEN a.withdrawals_today ELSE 0 END + 1 ELSE a.withdrawals_today END,
            limits_day = CASE WHEN d.counts THEN v_today ELSE a.limits_day END,
            line_count = a.line_count + 1
        FROM (VALUES (v_debit_id, -p_amount, p_kind = 'withdrawal'), (v_credit_id, p_amount, false)) AS d (id, delta, counts)
        WHERE v_code = '00' AND a.id = d.id AND EXISTS (SELECT 1 FROM txn)
        RETURNING a.id, d.delta, a.balance, a.line_count
    ), lines AS (
        INSERT INTO bank.history (transaction_id, account_id, line_no, amount, balance_after)
        SELECT txn.id, moved.id, moved.line_count, moved.delta, moved.balance FROM txn CROSS JOIN moved
    ), audited AS (
        INSERT INTO bank.audit_logs (actor, action, outcome, details, ip, device)
        SELECT p_actor, p_kind, v_code,
            jsonb_build_object('txn', txn.id, 'terminal', p_terminal, 'stan', p_stan, 'amount', p_amount,
                'from', p_from, 'to', p_to),
            p_ip, p_device
        FROM txn
    )
    SELECT txn.id INTO v_txn FROM txn;

    response_code := v_code;
    transaction_id := v_txn;
    balance_after := v_balance;
    auth_code := v_auth;
    replayed := false;
    RETURN NEXT;
END
$$;

-- A reversal advice (0420/0421) for the original named by its terminal, STAN and transmission time.
-- Posts compensating lines for what was not dispensed (all of it, or original minus p_dispensed);
-- changes and deletes nothing. Once per original: a repeat gets the same answer and moves nothing.
-- An unknown or refused original is acknowledged (00), audited, and moves nothing.
CREATE FUNCTION bank.reverse(
    p_actor text, p_ip text, p_device text,
    p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_original_stan text, p_original_transmitted text, p_dispensed bigint
) RETURNS TABLE (response_code text, transaction_id bigint, reversed_amount bigint, replayed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_existing record;
    v_original record;
    v_previous record;
    v_amount bigint := 0;
    v_code text := '00';
    v_txn bigint;
    v_row record;
    v_new_balance bigint;
    v_line_no bigint;
    v_note text;
BEGIN
    PERFORM bank.set_context('system', NULL);

    SELECT t.id, t.request_digest, t.response_code, t.amount INTO v_existing
    FROM bank.transactions t
    WHERE t.terminal_id = p_terminal AND t.stan = p_stan AND t.transmitted = p_transmitted;
    IF FOUND THEN
        IF v_existing.request_digest = p_digest THEN
            PERFORM bank.audit(p_actor, 'reversal', v_existing.response_code,
                jsonb_build_object('replay_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            RETURN QUERY SELECT v_existing.response_code, v_existing.id, v_existing.amount, true;
        ELSE
            PERFORM bank.audit(p_actor, 'reversal', '94',
                jsonb_build_object('duplicate_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            RETURN QUERY SELECT '94'::text, v_existing.id, 0::bigint, false;
        END IF;
        RETURN;
    END IF;

    SELECT t.id, t.kind, t.amount, t.response_code INTO v_original
    FROM bank.transactions t
    WHERE t.terminal_id = p_terminal AND t.stan = p_original_stan AND t.transmitted = p_original_transmitted
      AND t.kind IN ('withdrawal', 'deposit', 'transfer');

    IF v_original.id IS NULL THEN
        v_note := 'unknown original';
    ELSE
        SELECT t.id, t.response_code, t.amount INTO v_previous
        FROM bank.transactions t WHERE t.original_id = v_original.id AND t.kind = 'reversal';
        IF v_previous.id IS NOT NULL THEN
            PERFORM bank.audit(p_actor, 'reversal', v_previous.response_code,
                jsonb_build_object('replay_of', v_previous.id, 'original', v_original.id,
                    'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            RETURN QUERY SELECT v_previous.response_code, v_previous.id, v_previous.amount, true;
            RETURN;
        END IF;
        IF v_original.response_code <> '00' THEN
            v_note := 'original was refused';
        ELSIF p_dispensed IS NOT NULL AND (p_dispensed < 0 OR p_dispensed > v_original.amount) THEN
            v_code := '13';
            v_note := 'dispensed amount outside 0..original';
        ELSE
            v_amount := v_original.amount - coalesce(p_dispensed, 0);
            IF v_amount = 0 THEN v_note := 'everything was dispensed'; END IF;
        END IF;
    END IF;

    -- Lock the original's accounts in ascending id order; refuse if a customer would go negative.
    IF v_amount > 0 THEN
        FOR v_row IN
            SELECT a.id, a.kind, a.balance, h.amount
            FROM bank.history h JOIN bank.accounts a ON a.id = h.account_id
            WHERE h.transaction_id = v_original.id
            ORDER BY a.id
            FOR UPDATE OF a
        LOOP
            IF v_row.kind = 'customer' AND v_row.balance - sign(v_row.amount) * v_amount < 0 THEN
                v_code := '51';
                v_note := 'the customer account no longer holds the amount';
            END IF;
        END LOOP;
    END IF;

    INSERT INTO bank.transactions AS t (terminal_id, stan, transmitted, request_digest, kind, amount,
        response_code, original_id, actor)
    VALUES (p_terminal, p_stan, p_transmitted, p_digest, 'reversal',
        CASE WHEN v_code = '00' THEN v_amount ELSE 0 END, v_code, v_original.id, p_actor)
    ON CONFLICT DO NOTHING
    RETURNING t.id INTO v_txn;
    IF v_txn IS NULL THEN
        RAISE EXCEPTION 'a reversal of this original is being posted concurrently' USING ERRCODE = 'CP001';
    END IF;

    IF v_code = '00' AND v_amount > 0 THEN
        FOR v_row IN
            SELECT h.account_id, h.amount FROM bank.history h
            WHERE h.transaction_id = v_original.id ORDER BY h.account_id
        LOOP
            UPDATE bank.accounts a SET balance = a.balance - sign(v_row.amount)::bigint * v_amount,
                line_count = a.line_count + 1
            WHERE a.id = v_row.account_id
            RETURNING a.balance, a.line_count INTO v_new_balance, v_line_no;
            INSERT INTO bank.history (transaction_id, account_id, line_no, amount, balance_after)
            VALUES (v_txn, v_row.account_id, v_line_no, -sign(v_row.amount)::bigint * v_amount, v_new_balance);
        END LOOP;
    END IF;

    PERFORM bank.audit(p_actor, 'reversal', v_code,
        jsonb_build_object('txn', v_txn, 'original', v_original.id, 'terminal', p_terminal, 'stan', p_stan,
            'original_stan', p_original_stan, 'reversed', CASE WHEN v_code = '00' THEN v_amount ELSE 0 END,
            'note', v_note),
        p_ip, p_device);
    RETURN QUERY SELECT v_code, v_txn, CASE WHEN v_code = '00' THEN v_amount ELSE 0::bigint END, false;
END
$$;
