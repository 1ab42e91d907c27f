-- A money movement: withdrawal (from -> terminal cash), deposit (terminal cash -> to) or transfer
-- (from -> to). One call is one SQL transaction:
--   1. the idempotency key (terminal, STAN, transmission time): a repeat with the same digest gets
--   the stored answer and posts nothing; the same key with another digest gets 94;
--   1b. a desk withdrawal or deposit by staff above the four-eyes amount needs an approved change
--   (bank.require_desk_approval: SQLSTATE CPHLD otherwise);
--   2. every account touched is locked in ascending id order (no two postings can deadlock); a transfer
--   locks its two accounts with one index scan of accounts_account_no_key;
--   3. funds, locks, the customer's KYC status (bank.kyc_permits: 1K) and limits are checked and
--   mapped to a response code, the card's velocity last (bank.velocity_refused, transaction
--   monitoring's blocking rule: 59);
--   4. the answer is stored under the key, with the card it was made with (p_card_id: what a reversal
--   advice's card is matched against, bank.reversal_original); if approved, balanced lines are written,
--   each with the balance after it, and the audit row and monitoring's queue row, all in one statement. A key taken by a 'voided' row (the
--   original's reversal came first, possibly while this call waited for an account lock) gets that
--   row's answer, 68, audited under the posting's kind, and nothing moves.
-- A concurrent duplicate that claims the key first makes this call fail on
-- transactions_idempotency_key (23505); the caller retries and gets the stored answer.
-- For a card session (p_pan_digest given, with the session's id p_jti), the card and the session are
-- checked first, in the same call (bank.card_session_refused): when the session may not go on, nothing
-- is posted and the one row has response_code NULL and the card's state as facts (card_id, card_status,
-- card_expired, user_locked, session_ended), from which CashpointBank.CardRules answers.
-- The switch calls this form through bank.post_committed. (Until 2026-12-01 the session form was a
-- function of its own that called this one: a nested SECURITY DEFINER call, its result materialized, on
-- every card request.)
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.post(
    p_role text, p_user_id bigint, p_card_id bigint, p_actor text, p_ip text, p_device text,
    p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_kind text, p_amount bigint, p_from text, p_to text,
    p_pan_digest bytea DEFAULT NULL, p_jti text DEFAULT NULL
) RETURNS TABLE (response_code text, transaction_id bigint, balance_after bigint, auth_code text, replayed boolean,
    card_id bigint, card_status text, card_expired boolean, user_locked boolean, session_ended boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_cash_id bigint;
    v_terminal_enabled boolean;
    v_currency char(3);
    v_from bank.accounts%ROWTYPE;
    v_to bank.accounts%ROWTYPE;
    v_cash bank.accounts%ROWTYPE;
    v_account bank.accounts%ROWTYPE;
    v_locked bank.accounts[];
    v_existing record;
    v_code text;
    v_context text;
    v_card_permitted boolean := true;
    v_state record;
BEGIN
    IF p_pan_digest IS NULL AND p_role IN ('teller', 'admin') AND p_kind IN ('withdrawal', 'deposit') THEN
        -- Four eyes: a desk movement above the table's amount only as an approved change.
        PERFORM bank.require_desk_approval(p_kind, p_amount, coalesce(p_from, p_to));
    END IF;
    IF p_pan_digest IS NOT NULL THEN
        -- A card session: the system context reads the card (the cards' row-level security).
        v_context := set_config('cashpoint.role', 'system', true) || set_config('cashpoint.user_id', '', true);
        SELECT * INTO v_state FROM bank.card_session_refused(p_pan_digest, p_jti, p_card_id);
        IF FOUND THEN
            replayed := false;
            card_id := v_state.card_id;
            card_status := v_state.status;
            card_expired := v_state.expired;
            user_locked := v_state.user_locked;
            session_ended := v_state.ended;
            RETURN NEXT;
            RETURN;
        END IF;
        card_id := p_card_id;
        card_status := 'active';
        card_expired := false;
        user_locked := false;
        session_ended := false;
    END IF;
    IF p_role IS NULL OR p_role NOT IN ('customer', 'teller', 'admin') OR (p_role = 'customer' AND p_user_id IS NULL)
       OR p_kind IS NULL OR p_kind NOT IN ('withdrawal', 'deposit', 'transfer') THEN
        IF p_role IS NULL OR p_role NOT IN ('customer', 'teller', 'admin') THEN
            RAISE EXCEPTION 'role % does not move money', p_role USING ERRCODE = 'insufficient_privilege';
        ELSIF p_role = 'customer' AND p_user_id IS NULL THEN
            RAISE EXCEPTION 'a customer context needs its user' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RAISE EXCEPTION 'unknown posting kind %', p_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_context := set_config('cashpoint.role', p_role, true) || set_config('cashpoint.user_id', coalesce(p_user_id::text, ''), true);

    SELECT t.cash_account_id, t.enabled, s.currency INTO v_cash_id, v_terminal_enabled, v_currency
    FROM bank.settings s LEFT JOIN bank.terminals t ON t.id = p_terminal;
    v_code := CASE
        WHEN v_cash_id IS NULL OR NOT v_terminal_enabled THEN '58'
        WHEN p_amount IS NULL OR p_amount <= 0 OR p_amount > 999999999999 THEN '13'
        ELSE '00' END;

    IF v_code = '00' THEN
        -- 1. Every account touched, locked in ascending id order (see 0011).
        IF p_kind = 'transfer' THEN
            SELECT coalesce(array_agg(l.a), '{}') INTO v_locked FROM (
                SELECT a FROM bank.accounts a WHERE a.account_no = ANY (ARRAY[p_from, p_to]) ORDER BY a.id FOR UPDATE) l (a);
            FOREACH v_account IN ARRAY v_locked LOOP
                IF v_account.account_no = p_from THEN v_from := v_account; END IF;
                IF v_account.account_no = p_to THEN v_to := v_account; END IF;
            END LOOP;
        ELSE
            SELECT coalesce(array_agg(l.a), '{}') INTO v_locked FROM (
                SELECT a FROM bank.accounts a
                WHERE a.account_no = CASE p_kind WHEN 'withdrawal' THEN p_from ELSE p_to END OR a.id = v_cash_id
                ORDER BY a.id
                FOR UPDATE) l (a);
            FOREACH v_account IN ARRAY v_locked LOOP
                IF p_kind = 'withdrawal' AND v_account.account_no = p_from THEN v_from := v_account; END IF;
                IF p_kind = 'deposit' AND v_account.account_no = p_to THEN v_to := v_account; END IF;
                IF v_account.id = v_cash_id THEN v_cash := v_account; END IF;
            END LOOP;
        END IF;

        -- 2. The checks, in order; the first that fails names the response code. A card moves money only
        --    between accounts linked to it: the one it pays from or into, and for a transfer both (the
        --    permission table's rule, CashpointBank.Permissions, checked again here). First, so that an
        --    account that is not the card's is 57 whether or not it exists, as the permission table answers.
        --    A customer context moves money only through a card.
        IF p_card_id IS NOT NULL THEN
            v_card_permitted := EXISTS (
                SELECT 1 FROM bank.card_accounts ca
                WHERE ca.card_id = p_card_id
                  AND ca.account_id = CASE WHEN p_kind = 'deposit' THEN v_to.id ELSE v_from.id END)
              AND (p_kind <> 'transfer' OR EXISTS (
                SELECT 1 FROM bank.card_accounts ca WHERE ca.card_id = p_card_id AND ca.account_id = v_to.id));
        END IF;
        v_code := CASE
            WHEN NOT v_card_permitted THEN '57'
            WHEN p_kind <> 'deposit' AND (v_from.id IS NULL OR v_from.kind <> 'customer') THEN '76'
            WHEN p_kind <> 'withdrawal' AND (v_to.id IS NULL OR (p_kind = 'deposit' AND v_to.kind <> 'customer')) THEN '77'
            WHEN p_kind <> 'transfer' AND v_cash.id IS NULL THEN '58'
            WHEN p_kind = 'transfer' AND v_from.id = v_to.id THEN '12'
            WHEN (v_from.id IS NOT NULL AND v_from.currency <> v_currency)
              OR (v_to.id IS NOT NULL AND v_to.currency <> v_currency) THEN '12'
            WHEN (v_from.id IS NOT NULL AND v_from.is_locked) OR (v_to.id IS NOT NULL AND v_to.is_locked) THEN '62'
            WHEN p_role = 'customer' AND p_card_id IS NULL THEN '57'
            -- Know your customer (0023): the customer whose money goes out, and the one it comes in to.
            WHEN NOT bank.kyc_permits(v_from.user_id, p_kind)
              OR (p_kind <> 'withdrawal' AND NOT bank.kyc_permits(v_to.user_id, 'deposit')) THEN '1K'
            WHEN p_kind <> 'deposit' AND v_from.balance < p_amount THEN '51'
            WHEN p_kind = 'withdrawal' AND p_role = 'customer'
              AND (CASE WHEN v_from.limits_day = current_date THEN v_from.withdrawn_today ELSE 0 END) + p_amount
                  > v_from.daily_withdrawal_limit THEN '61'
            WHEN p_kind = 'withdrawal' AND p_role = 'customer'
              AND (CASE WHEN v_from.limits_day = current_date THEN v_from.withdrawals_today ELSE 0 END) + 1
                  > v_from.daily_withdrawal_count THEN '65'
            WHEN p_kind = 'withdrawal' AND p_card_id IS NOT NULL AND bank.velocity_refused(p_card_id, p_amount) THEN '59'
            ELSE '00' END;
    END IF;

    -- 3. The answer under the key, the balanced lines and the audit row, in one statement (see 0011).
    --    If the key is taken (a repeat, a concurrent duplicate that committed first, or the original's
    --    reversal that came first), the statement writes nothing at all, and step 4 answers.
    WITH txn AS (
        INSERT INTO bank.transactions AS t (terminal_id, stan, transmitted, request_digest, kind, amount,
            response_code, auth_code, account_id, balance_after, actor, card_id)
        VALUES (p_terminal, p_stan, p_transmitted, p_digest, p_kind, greatest(coalesce(p_amount, 0), 0),
            v_code,
            CASE WHEN v_code = '00' THEN upper(substr(md5(random()::text || clock_timestamp()::text), 1, 6)) END,
            CASE WHEN p_kind = 'deposit' THEN v_to.id ELSE v_from.id END,
            CASE WHEN p_kind = 'deposit' THEN v_to.balance + CASE WHEN v_code = '00' THEN p_amount ELSE 0 END
                 ELSE v_from.balance - CASE WHEN v_code = '00' THEN p_amount ELSE 0 END END,
            p_actor, p_card_id)
        ON CONFLICT (terminal_id, stan, transmitted) DO NOTHING
        RETURNING t.id, t.response_code, t.balance_after, t.auth_code
    ), moved AS (
        UPDATE bank.accounts a
        SET balance = a.balance + d.delta,
            withdrawn_today = CASE WHEN d.counts THEN CASE WHEN a.limits_day = current_date THEN a.withdrawn_today ELSE 0 END + p_amount ELSE a.withdrawn_today END,
            withdrawals_today = CASE WHEN d.counts THEN CASE WHEN a.limits_day = current_date THEN a.withdrawals_today ELSE 0 END + 1 ELSE a.withdrawals_today END,
            limits_day = CASE WHEN d.counts THEN current_date ELSE a.limits_day END,
            line_count = a.line_count + 1
        FROM (VALUES (CASE p_kind WHEN 'deposit' THEN v_cash.id ELSE v_from.id END, -p_amount, p_kind = 'withdrawal'),
                     (CASE p_kind WHEN 'withdrawal' THEN v_cash.id ELSE v_to.id END, p_amount, false)) AS d (id, delta, counts)
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
    ), queued AS (
        -- Transaction monitoring's outbox (0024): examined after commit by the switch's worker.
        INSERT INTO bank.monitoring_queue (transaction_id)
        SELECT txn.id FROM txn, bank.settings s
        WHERE s.monitoring_enabled AND s.aml_rules_version IS NOT NULL AND txn.response_code IN ('00', '59')
    )
    SELECT txn.response_code, txn.id, txn.balance_after, txn.auth_code, false
    INTO response_code, transaction_id, balance_after, auth_code, replayed
    FROM txn;
    IF FOUND THEN
        RETURN NEXT;
        RETURN;
    END IF;

    -- 4. The key was taken. By the original's reversal, which came first ('voided'): its stored refusal,
    --    68, and the reversal that voided it in the audit row. By a repeat with the same content: the
    --    stored answer. By other content: 94. Nothing was posted; the attempt is audited.
    SELECT t.id, t.kind, t.request_digest, t.response_code, t.balance_after, t.auth_code,
        (SELECT r.id FROM bank.transactions r WHERE r.original_id = t.id AND r.kind = 'reversal') AS voided_by
    INTO STRICT v_existing
    FROM bank.transactions t
    WHERE t.terminal_id = p_terminal AND t.stan = p_stan AND t.transmitted = p_transmitted;
    IF v_existing.kind = 'voided' THEN
        INSERT INTO bank.audit_logs (actor, action, outcome, details, ip, device)
        VALUES (p_actor, p_kind, v_existing.response_code,
            jsonb_build_object('voided', v_existing.id, 'voided_by', v_existing.voided_by, 'terminal', p_terminal,
                'stan', p_stan, 'amount', p_amount, 'reason', 'reversed before it arrived'), p_ip, p_device);
        response_code := v_existing.response_code;
        transaction_id := v_existing.id;
        balance_after := NULL;
        auth_code := NULL;
        replayed := false;
    ELSIF v_existing.request_digest = p_digest THEN
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
END
$$;

REVOKE ALL ON FUNCTION bank.post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text, bytea, text) TO cashpoint_switch;
