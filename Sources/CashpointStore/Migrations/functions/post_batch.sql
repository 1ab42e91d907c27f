-- Card-session postings in one transaction, set-based (issue 23, batched postings): what bank.post does
-- for one posting, done for a batch by a fixed number of statements whatever its size, so the
-- database's per-transaction and per-statement work is shared by the batch. Element k of every array
-- is posting k; its answer is element k of every result array, exactly what bank.post answers it.
--   1. Every posting is a card session's withdrawal, deposit or transfer in a customer's context
--   (p_user_id, p_card_id, p_pan_digest, p_jti given). No two postings of a batch may touch one account
--   (their accounts by number, their terminal's cash account): checks made against one balance
--   would both pass. A batch that breaks either rule is refused whole (SQLSTATE CPBAT, nothing done)
--   and the caller posts its members one at a time. The switch's posting service never builds one.
--   2. Each posting's card session is checked (bank.card_session_refused, in the system context as
--   bank.post checks it); a refused one gets no response code and the card's facts, as bank.post's.
--   Then the context is the batch's customers' (0032: row-level security shows the batch the bank's
--   accounts and its customers', no other customer's).
--   3. Every account touched by the batch is locked once, in ascending id order (as bank.post locks
--   its own: no batch and no single posting can deadlock over accounts).
--   4. One statement answers and posts the rest, the checks in bank.post's order (its CASE, row by
--   row; each posting sees only its own customer's accounts and the bank's, the 'customer' context's
--   policy as a join condition), then every posting's transaction row under its key, the accounts'
--   new balances, the ledger lines, the audit rows and monitoring's queue rows.
--   5. A posting whose key was already taken (a repeat, the original's reversal that came first) wrote
--   nothing in step 4; bank.post answers it (its step 4: the stored answer, 68 or 94), one by one:
--   rare, and those calls find the accounts already locked by this transaction.
-- Results are arrays without NULLs (postgres-nio decodes no NULL element): '' for no text, 0 for no
-- id, and balance_known false for no balance.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.post_batch(
    p_user_id bigint[], p_card_id bigint[], p_actor text[], p_ip text[], p_device text[],
    p_terminal text[], p_stan text[], p_transmitted text[], p_digest bytea[],
    p_kind text[], p_amount bigint[], p_from text[], p_to text[], p_pan_digest bytea[], p_jti text[],
    OUT response_codes text[], OUT transaction_ids bigint[], OUT balances bigint[], OUT balance_known boolean[],
    OUT auth_codes text[], OUT replayed boolean[], OUT card_ids bigint[], OUT card_statuses text[],
    OUT cards_expired boolean[], OUT users_locked boolean[], OUT sessions_ended boolean[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_count int := coalesce(cardinality(p_terminal), 0);
    v_context text;
    v_ids bigint[];
    v_shared boolean;
    v_locked bank.accounts[];
    v_refused int[];
    v_refused_card bigint[];
    v_refused_status text[];
    v_refused_expired boolean[];
    v_refused_locked boolean[];
    v_refused_ended boolean[];
    v_taken int[];
    v_k int;
    v_row record;
BEGIN
    -- 1. The batch's rules.
    IF v_count = 0 OR v_count > 1000
       OR coalesce(cardinality(p_user_id), 0) <> v_count OR coalesce(cardinality(p_card_id), 0) <> v_count
       OR coalesce(cardinality(p_actor), 0) <> v_count OR coalesce(cardinality(p_ip), 0) <> v_count
       OR coalesce(cardinality(p_device), 0) <> v_count OR coalesce(cardinality(p_stan), 0) <> v_count
       OR coalesce(cardinality(p_transmitted), 0) <> v_count OR coalesce(cardinality(p_digest), 0) <> v_count
       OR coalesce(cardinality(p_kind), 0) <> v_count OR coalesce(cardinality(p_amount), 0) <> v_count
       OR coalesce(cardinality(p_from), 0) <> v_count OR coalesce(cardinality(p_to), 0) <> v_count
       OR coalesce(cardinality(p_pan_digest), 0) <> v_count OR coalesce(cardinality(p_jti), 0) <> v_count THEN
        RAISE EXCEPTION 'a batch is 1 to 1000 postings, every array as long as the others' USING ERRCODE = 'CPBAT';
    END IF;
    IF EXISTS (
        SELECT 1 FROM unnest(p_user_id, p_card_id, p_kind, p_pan_digest, p_jti) r (u, c, k, d, j)
        WHERE u IS NULL OR c IS NULL OR d IS NULL OR j IS NULL OR k IS NULL
           OR k NOT IN ('withdrawal', 'deposit', 'transfer')) THEN
        RAISE EXCEPTION 'a batch holds only card sessions'' withdrawals, deposits and transfers' USING ERRCODE = 'CPBAT';
    END IF;
    -- 2. The card sessions, in the system context (as bank.post: a PAN may name another customer's card).
    v_context := set_config('cashpoint.role', 'system', true) || set_config('cashpoint.user_id', '', true);
    SELECT coalesce(array_agg(r.i::int ORDER BY r.i), '{}'), coalesce(array_agg(s.card_id ORDER BY r.i), '{}'),
        coalesce(array_agg(s.status ORDER BY r.i), '{}'), coalesce(array_agg(s.expired ORDER BY r.i), '{}'),
        coalesce(array_agg(s.user_locked ORDER BY r.i), '{}'), coalesce(array_agg(s.ended ORDER BY r.i), '{}')
    INTO v_refused, v_refused_card, v_refused_status, v_refused_expired, v_refused_locked, v_refused_ended
    FROM unnest(p_pan_digest, p_jti, p_card_id) WITH ORDINALITY r (d, j, c, i)
    CROSS JOIN LATERAL bank.card_session_refused(r.d, r.j, r.c) s;

    -- The rest in the batch's customers' context (0032): their accounts and the bank's, no other's.
    v_context := set_config('cashpoint.role', 'customers', true) || set_config('cashpoint.user_id', '', true)
        || set_config('cashpoint.user_ids', array_to_string(p_user_id, ','), true);
    -- Every account the batch touches (by number, and its terminals' cash), each by its index: no
    -- posting may share one with another.
    SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}'), coalesce(bool_or(s.postings > 1), false)
    INTO v_ids, v_shared
    FROM (
        SELECT t.id, count(*) AS postings FROM (
            SELECT r.i, a.id
            FROM (SELECT u.i, u.no FROM unnest(p_from) WITH ORDINALITY u (no, i)
                  UNION SELECT u.i, u.no FROM unnest(p_to) WITH ORDINALITY u (no, i)) r
            JOIN bank.accounts a ON a.account_no = r.no
            UNION
            SELECT r.i, tm.cash_account_id FROM unnest(p_terminal) WITH ORDINALITY r (t, i)
            JOIN bank.terminals tm ON tm.id = r.t
        ) t
        GROUP BY t.id) s;
    IF v_shared THEN
        RAISE EXCEPTION 'two postings of a batch touch one account' USING ERRCODE = 'CPBAT';
    END IF;

    -- 3. Every account touched, locked once in ascending id order.
    SELECT coalesce(array_agg(l.a ORDER BY (l.a).id), '{}') INTO v_locked FROM (
        SELECT a FROM bank.accounts a WHERE a.id = ANY (v_ids) ORDER BY a.id FOR UPDATE) l (a);

    -- 4. The answers and the postings.
    WITH r AS (
        SELECT u.user_id, u.card_id, u.actor, nullif(u.ip, '') AS ip, nullif(u.device, '') AS device, u.terminal,
            u.stan, u.transmitted, u.digest, u.kind, u.amount, nullif(u.from_no, '') AS from_no,
            nullif(u.to_no, '') AS to_no, u.pan_digest, u.jti, u.i
        FROM unnest(p_user_id, p_card_id, p_actor, p_ip, p_device, p_terminal, p_stan, p_transmitted,
            p_digest, p_kind, p_amount, p_from, p_to, p_pan_digest, p_jti)
            WITH ORDINALITY AS u (user_id, card_id, actor, ip, device, terminal, stan, transmitted, digest, kind,
                amount, from_no, to_no, pan_digest, jti, i)
    ), refused AS (
        SELECT * FROM unnest(v_refused, v_refused_card, v_refused_status, v_refused_expired, v_refused_locked,
            v_refused_ended) f (i, card_id, status, expired, user_locked, ended)
    ), screened AS (
        -- bank.post's first answer: the terminal and the amount, before any account is read.
        SELECT r.*, tm.cash_account_id AS cash_id, s.currency,
            CASE WHEN tm.cash_account_id IS NULL OR NOT tm.enabled THEN '58'
                 WHEN r.amount IS NULL OR r.amount <= 0 OR r.amount > 999999999999 THEN '13'
                 ELSE '00' END AS first_code
        FROM r CROSS JOIN bank.settings s LEFT JOIN bank.terminals tm ON tm.id = r.terminal
        WHERE r.i NOT IN (SELECT refused.i FROM refused)
    ), resolved AS (
        -- The accounts bank.post would have locked and seen in the customer's context.
        SELECT x.*,
            f.id AS from_id, f.kind AS from_kind, f.currency AS from_currency, f.is_locked AS from_locked,
            f.user_id AS from_user, f.balance AS from_balance, f.limits_day, f.withdrawn_today,
            f.withdrawals_today, f.daily_withdrawal_limit, f.daily_withdrawal_count,
            t.id AS to_id, t.kind AS to_kind, t.currency AS to_currency, t.is_locked AS to_locked,
            t.user_id AS to_user, t.balance AS to_balance,
            c.id AS cash_locked
        FROM screened x
        LEFT JOIN unnest(v_locked) f ON x.first_code = '00' AND x.kind <> 'deposit' AND f.account_no = x.from_no
            AND (f.kind <> 'customer' OR f.user_id = x.user_id)
        LEFT JOIN unnest(v_locked) t ON x.first_code = '00' AND x.kind <> 'withdrawal' AND t.account_no = x.to_no
            AND (t.kind <> 'customer' OR t.user_id = x.user_id)
        LEFT JOIN unnest(v_locked) c ON x.first_code = '00' AND x.kind <> 'transfer' AND c.id = x.cash_id
            AND (c.kind <> 'customer' OR c.user_id = x.user_id)
    ), coded AS (
        SELECT x.*, CASE
            WHEN x.first_code <> '00' THEN x.first_code
            WHEN NOT (EXISTS (
                    SELECT 1 FROM bank.card_accounts ca
                    WHERE ca.card_id = x.card_id
                      AND ca.account_id = CASE WHEN x.kind = 'deposit' THEN x.to_id ELSE x.from_id END)
                  AND (x.kind <> 'transfer' OR EXISTS (
                    SELECT 1 FROM bank.card_accounts ca WHERE ca.card_id = x.card_id AND ca.account_id = x.to_id)))
                THEN '57'
            WHEN x.kind <> 'deposit' AND (x.from_id IS NULL OR x.from_kind <> 'customer') THEN '76'
            WHEN x.kind <> 'withdrawal' AND (x.to_id IS NULL OR (x.kind = 'deposit' AND x.to_kind <> 'customer')) THEN '77'
            WHEN x.kind <> 'transfer' AND x.cash_locked IS NULL THEN '58'
            WHEN x.kind = 'transfer' AND x.from_id = x.to_id THEN '12'
            WHEN (x.from_id IS NOT NULL AND x.from_currency <> x.currency)
              OR (x.to_id IS NOT NULL AND x.to_currency <> x.currency) THEN '12'
            WHEN (x.from_id IS NOT NULL AND x.from_locked) OR (x.to_id IS NOT NULL AND x.to_locked) THEN '62'
            WHEN NOT bank.kyc_permits(x.from_user, x.kind)
              OR (x.kind <> 'withdrawal' AND NOT bank.kyc_permits(x.to_user, 'deposit')) THEN '1K'
            WHEN x.kind <> 'deposit' AND x.from_balance < x.amount THEN '51'
            WHEN x.kind = 'withdrawal'
              AND (CASE WHEN x.limits_day = current_date THEN x.withdrawn_today ELSE 0 END) + x.amount
                  > x.daily_withdrawal_limit THEN '61'
            WHEN x.kind = 'withdrawal'
              AND (CASE WHEN x.limits_day = current_date THEN x.withdrawals_today ELSE 0 END) + 1
                  > x.daily_withdrawal_count THEN '65'
            WHEN x.kind = 'withdrawal' AND bank.velocity_refused(x.card_id, x.amount) THEN '59'
            ELSE '00' END AS code
        FROM resolved x
    ), txn AS (
        INSERT INTO bank.transactions AS t (terminal_id, stan, transmitted, request_digest, kind, amount,
            response_code, auth_code, account_id, balance_after, actor, card_id)
        SELECT x.terminal, x.stan, x.transmitted, x.digest, x.kind, greatest(coalesce(x.amount, 0), 0), x.code,
            CASE WHEN x.code = '00' THEN upper(substr(md5(random()::text || clock_timestamp()::text || x.i), 1, 6)) END,
            CASE WHEN x.kind = 'deposit' THEN x.to_id ELSE x.from_id END,
            CASE WHEN x.kind = 'deposit' THEN x.to_balance + CASE WHEN x.code = '00' THEN x.amount ELSE 0 END
                 ELSE x.from_balance - CASE WHEN x.code = '00' THEN x.amount ELSE 0 END END,
            x.actor, x.card_id
        FROM coded x
        ORDER BY x.i
        ON CONFLICT (terminal_id, stan, transmitted) DO NOTHING
        RETURNING t.id, t.terminal_id, t.stan, t.transmitted, t.response_code, t.balance_after, t.auth_code
    ), posted AS (
        SELECT x.*, txn.id AS txn_id, txn.response_code AS stored_code, txn.balance_after AS stored_balance,
            txn.auth_code AS stored_auth
        FROM coded x JOIN txn ON txn.terminal_id = x.terminal AND txn.stan = x.stan AND txn.transmitted = x.transmitted
    ), moved AS (
        UPDATE bank.accounts a
        SET balance = a.balance + d.delta,
            withdrawn_today = CASE WHEN d.counts THEN CASE WHEN a.limits_day = current_date THEN a.withdrawn_today ELSE 0 END + d.amount ELSE a.withdrawn_today END,
            withdrawals_today = CASE WHEN d.counts THEN CASE WHEN a.limits_day = current_date THEN a.withdrawals_today ELSE 0 END + 1 ELSE a.withdrawals_today END,
            limits_day = CASE WHEN d.counts THEN current_date ELSE a.limits_day END,
            line_count = a.line_count + 1
        FROM (
            SELECT p.txn_id, CASE p.kind WHEN 'deposit' THEN p.cash_id ELSE p.from_id END AS id, -p.amount AS delta,
                p.kind = 'withdrawal' AS counts, p.amount
            FROM posted p WHERE p.code = '00'
            UNION ALL
            SELECT p.txn_id, CASE p.kind WHEN 'withdrawal' THEN p.cash_id ELSE p.to_id END, p.amount, false, p.amount
            FROM posted p WHERE p.code = '00'
        ) d
        WHERE a.id = d.id
        RETURNING a.id, d.txn_id, d.delta, a.balance, a.line_count
    ), lines AS (
        INSERT INTO bank.history (transaction_id, account_id, line_no, amount, balance_after)
        SELECT m.txn_id, m.id, m.line_count, m.delta, m.balance FROM moved m
    ), audited AS (
        INSERT INTO bank.audit_logs (actor, action, outcome, details, ip, device)
        SELECT p.actor, p.kind, p.code,
            jsonb_build_object('txn', p.txn_id, 'terminal', p.terminal, 'stan', p.stan, 'amount', p.amount,
                'from', p.from_no, 'to', p.to_no),
            p.ip, p.device
        FROM posted p ORDER BY p.i
    ), queued AS (
        INSERT INTO bank.monitoring_queue (transaction_id)
        SELECT p.txn_id FROM posted p, bank.settings s
        WHERE s.monitoring_enabled AND s.aml_rules_version IS NOT NULL AND p.code IN ('00', '59')
        ORDER BY p.txn_id
    ), answered AS (
        SELECT r.i,
            coalesce(p.stored_code, '') AS code, coalesce(p.txn_id, 0) AS txn, coalesce(p.stored_balance, 0) AS balance,
            p.stored_balance IS NOT NULL AS known, coalesce(p.stored_auth, '') AS auth,
            coalesce(f.card_id, CASE WHEN f.i IS NULL THEN r.card_id END, 0) AS card,
            coalesce(f.status, CASE WHEN f.i IS NULL THEN 'active' END, '') AS status,
            coalesce(f.expired, false) AS expired, coalesce(f.user_locked, false) AS user_locked,
            coalesce(f.ended, false) AS ended,
            f.i IS NULL AND p.i IS NULL AS taken
        FROM r LEFT JOIN refused f ON f.i = r.i LEFT JOIN posted p ON p.i = r.i
    )
    SELECT array_agg(a.code ORDER BY a.i), array_agg(a.txn ORDER BY a.i), array_agg(a.balance ORDER BY a.i),
        array_agg(a.known ORDER BY a.i), array_agg(a.auth ORDER BY a.i), array_fill(false, ARRAY[v_count]),
        array_agg(a.card ORDER BY a.i), array_agg(a.status ORDER BY a.i), array_agg(a.expired ORDER BY a.i),
        array_agg(a.user_locked ORDER BY a.i), array_agg(a.ended ORDER BY a.i),
        coalesce(array_agg(a.i::int ORDER BY a.i) FILTER (WHERE a.taken), '{}')
    INTO response_codes, transaction_ids, balances, balance_known, auth_codes, replayed, card_ids, card_statuses,
        cards_expired, users_locked, sessions_ended, v_taken
    FROM answered a;

    -- 5. The postings whose key was taken: bank.post's answer for each.
    FOREACH v_k IN ARRAY v_taken LOOP
        SELECT * INTO STRICT v_row FROM bank.post('customer', p_user_id[v_k], p_card_id[v_k], p_actor[v_k],
            nullif(p_ip[v_k], ''), nullif(p_device[v_k], ''), p_terminal[v_k], p_stan[v_k], p_transmitted[v_k],
            p_digest[v_k], p_kind[v_k], p_amount[v_k], nullif(p_from[v_k], ''), nullif(p_to[v_k], ''),
            p_pan_digest[v_k], p_jti[v_k]);
        response_codes[v_k] := coalesce(v_row.response_code, '');
        transaction_ids[v_k] := coalesce(v_row.transaction_id, 0);
        balances[v_k] := coalesce(v_row.balance_after, 0);
        balance_known[v_k] := v_row.balance_after IS NOT NULL;
        auth_codes[v_k] := coalesce(v_row.auth_code, '');
        replayed[v_k] := coalesce(v_row.replayed, false);
        card_ids[v_k] := coalesce(v_row.card_id, 0);
        card_statuses[v_k] := coalesce(v_row.card_status, '');
        cards_expired[v_k] := coalesce(v_row.card_expired, false);
        users_locked[v_k] := coalesce(v_row.user_locked, false);
        sessions_ended[v_k] := coalesce(v_row.session_ended, false);
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION bank.post_batch(bigint[], bigint[], text[], text[], text[], text[], text[], text[], bytea[], text[], bigint[], text[], text[], bytea[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.post_batch(bigint[], bigint[], text[], text[], text[], text[], text[], text[], bytea[], text[], bigint[], text[], text[], bytea[], text[]) TO cashpoint_switch;
