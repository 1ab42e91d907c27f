-- 0009: the rules of the rows a posting writes, checked without reading them back for every statement.
-- Same rules, same rows; docs/performance.md has the measurements.
--
-- The per-column CHECK constraints of the tables a posting writes become domains. PostgreSQL 15
-- reads every CHECK constraint of a table back from its stored text (stringToNode) and plans it
-- again for every statement that inserts or updates a row of that table: 13 constraints for each
-- posting, about 16% of bank.post's instructions (callgrind). A domain's check is cached per
-- connection and is evaluated only where a value is assigned to the column. The two constraints
-- that tie columns together stay on bank.accounts: a customer account has a user and is never
-- negative. ALTER COLUMN ... TYPE checks every existing row against its domain (a rewrite of the
-- three tables, under their exclusive lock, inside this migration's transaction).
SET LOCAL ROLE cashpoint_owner;

CREATE DOMAIN bank.account_number AS text CHECK (length(VALUE) BETWEEN 4 AND 28);
CREATE DOMAIN bank.account_kind AS text
    CHECK (VALUE IN ('customer', 'terminal_cash', 'teller_drawer', 'bank_equity'));
CREATE DOMAIN bank.transaction_kind AS text
    CHECK (VALUE IN ('withdrawal', 'deposit', 'transfer', 'reversal', 'opening'));
CREATE DOMAIN bank.stan AS text CHECK (length(VALUE) = 6);
CREATE DOMAIN bank.transmission_time AS text CHECK (length(VALUE) = 10);
CREATE DOMAIN bank.response_code AS text CHECK (length(VALUE) = 2);
CREATE DOMAIN bank.non_negative_bigint AS bigint CHECK (VALUE >= 0);
CREATE DOMAIN bank.non_negative_int AS int CHECK (VALUE >= 0);
CREATE DOMAIN bank.line_number AS bigint CHECK (VALUE >= 1);
CREATE DOMAIN bank.line_amount AS bigint CHECK (VALUE <> 0);

-- accounts.kind is read by the row-level-security policy: it is dropped and made again, unchanged,
-- around the change of type (PostgreSQL refuses to change the type of a column a policy uses).
DROP POLICY accounts_by_context ON bank.accounts;
ALTER TABLE bank.accounts
    DROP CONSTRAINT accounts_account_no_check,
    DROP CONSTRAINT accounts_kind_check,
    DROP CONSTRAINT accounts_daily_withdrawal_limit_check,
    DROP CONSTRAINT accounts_daily_withdrawal_count_check,
    ALTER COLUMN account_no TYPE bank.account_number,
    ALTER COLUMN kind TYPE bank.account_kind,
    ALTER COLUMN daily_withdrawal_limit TYPE bank.non_negative_bigint,
    ALTER COLUMN daily_withdrawal_count TYPE bank.non_negative_int;
CREATE POLICY accounts_by_context ON bank.accounts
    USING (
        bank.context_role() IN ('teller', 'admin', 'system')
        OR (bank.context_role() = 'customer' AND (kind <> 'customer' OR user_id = bank.context_user()))
    );

ALTER TABLE bank.transactions
    DROP CONSTRAINT transactions_stan_check,
    DROP CONSTRAINT transactions_transmitted_check,
    DROP CONSTRAINT transactions_kind_check,
    DROP CONSTRAINT transactions_amount_check,
    DROP CONSTRAINT transactions_response_code_check,
    ALTER COLUMN stan TYPE bank.stan,
    ALTER COLUMN transmitted TYPE bank.transmission_time,
    ALTER COLUMN kind TYPE bank.transaction_kind,
    ALTER COLUMN amount TYPE bank.non_negative_bigint,
    ALTER COLUMN response_code TYPE bank.response_code;

ALTER TABLE bank.history
    DROP CONSTRAINT history_line_no_check,
    DROP CONSTRAINT history_amount_check,
    ALTER COLUMN line_no TYPE bank.line_number,
    ALTER COLUMN amount TYPE bank.line_amount;

-- RETURN QUERY wants the declared column types exactly: the functions that return a column now typed
-- by a domain return it as its base type, as before. Otherwise as in 0002/0003 (and 0008's generic
-- plans for bank.reverse).
CREATE OR REPLACE FUNCTION bank.reverse(
    p_actor text, p_ip text, p_device text,
    p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_original_stan text, p_original_transmitted text, p_dispensed bigint
) RETURNS TABLE (response_code text, transaction_id bigint, reversed_amount bigint, replayed boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank SET plan_cache_mode = force_generic_plan
AS $$
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
            RETURN QUERY SELECT v_existing.response_code::text, v_existing.id, v_existing.amount::bigint, true;
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
            RETURN QUERY SELECT v_previous.response_code::text, v_previous.id, v_previous.amount::bigint, true;
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

CREATE OR REPLACE FUNCTION bank.mini_statement(
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
    SELECT v_code, h.line_no::bigint, h.created_at, t.kind::text, h.amount::bigint, h.balance_after
    FROM bank.history h JOIN bank.transactions t ON t.id = h.transaction_id
    WHERE h.account_id = v_account.id
    ORDER BY h.line_no DESC
    LIMIT greatest(1, least(p_count, 50));
END
$$;
