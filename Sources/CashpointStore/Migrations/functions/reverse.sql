-- A reversal advice (0420/0421) for the original named by its terminal, STAN and transmission time.
-- The advice must agree with its original (bank.reversal_original: the transaction type p_kind, the
-- amount asked for p_amount, the card p_pan_digest): one that does not is answered with no response
-- code and the field that differs (mismatch_field, and original_kind), does nothing and records nothing;
-- the switch refuses it (12) and audits the refusal. The match is made here, in the transaction that
-- reverses, so it also holds for an original that commits while this call waits for its key.
-- Posts compensating lines for what was not dispensed (all of it, or original minus p_dispensed);
-- changes and deletes nothing. Once per original: a repeat gets the same answer and moves nothing.
-- An unknown or refused original is acknowledged (00), audited, and moves nothing.
-- The original is settled whatever the order the two arrive in:
--   - committed: reversed;
--   - in flight after claiming its key: the claim below waits for it to commit (ON CONFLICT waits for
--  an in-flight inserter of the same key), then it is reversed;
--   - not arrived (or in flight before claiming its key, e.g. waiting for an account lock): the claim
--  wins, a 'voided' row (response code 68, amount 0) holds the original's key, and the original,
--  when it comes, posts nothing and is answered 68 (bank.post, step 4).
-- A reversal that names itself as its original claims nothing (an unknown original).
-- RETURN QUERY wants the declared column types exactly: a column typed by a domain is returned as its
-- base type.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.reverse(
    p_actor text, p_ip text, p_device text,
    p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_original_stan text, p_original_transmitted text, p_dispensed bigint,
    p_kind text, p_amount bigint, p_pan_digest bytea
) RETURNS TABLE (response_code text, transaction_id bigint, reversed_amount bigint, replayed boolean,
    mismatch_field integer, original_kind text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_existing record;
    v_original record;
    v_previous record;
    v_amount bigint := 0;
    v_code text := '00';
    v_txn bigint;
    v_voided bigint;
    v_row record;
    v_new_balance bigint;
    v_line_no bigint;
    v_note text;
BEGIN
    PERFORM bank.set_context('system', NULL);

    SELECT * INTO v_original FROM bank.reversal_original(p_terminal, p_original_stan, p_original_transmitted,
        p_kind, p_amount, p_pan_digest);
    IF v_original.mismatch IS NOT NULL THEN
        RETURN QUERY SELECT NULL::text, NULL::bigint, 0::bigint, false, v_original.mismatch, v_original.kind;
        RETURN;
    END IF;

    SELECT t.id, t.request_digest, t.response_code, t.amount INTO v_existing
    FROM bank.transactions t
    WHERE t.terminal_id = p_terminal AND t.stan = p_stan AND t.transmitted = p_transmitted;
    IF FOUND THEN
        IF v_existing.request_digest = p_digest THEN
            PERFORM bank.audit(p_actor, 'reversal', v_existing.response_code,
                jsonb_build_object('replay_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            RETURN QUERY SELECT v_existing.response_code::text, v_existing.id, v_existing.amount::bigint, true,
                NULL::integer, NULL::text;
        ELSE
            PERFORM bank.audit(p_actor, 'reversal', '94',
                jsonb_build_object('duplicate_of', v_existing.id, 'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            RETURN QUERY SELECT '94'::text, v_existing.id, 0::bigint, false, NULL::integer, NULL::text;
        END IF;
        RETURN;
    END IF;

    IF v_original.id IS NULL AND (p_original_stan, p_original_transmitted) IS DISTINCT FROM (p_stan, p_transmitted) THEN
        INSERT INTO bank.transactions AS t (terminal_id, stan, transmitted, request_digest, kind, amount,
            response_code, actor)
        VALUES (p_terminal, p_original_stan, p_original_transmitted, p_digest, 'voided', 0, '68', p_actor)
        ON CONFLICT (terminal_id, stan, transmitted) DO NOTHING
        RETURNING t.id INTO v_voided;
        -- Claimed, or taken by an original that committed meanwhile (this statement's snapshot is new),
        -- which must agree with the advice as well; nothing was written then.
        SELECT * INTO v_original FROM bank.reversal_original(p_terminal, p_original_stan, p_original_transmitted,
            p_kind, p_amount, p_pan_digest);
        IF v_original.mismatch IS NOT NULL THEN
            RETURN QUERY SELECT NULL::text, NULL::bigint, 0::bigint, false, v_original.mismatch, v_original.kind;
            RETURN;
        END IF;
    END IF;

    IF v_original.id IS NULL THEN
        v_note := 'unknown original';
    ELSE
        SELECT t.id, t.response_code, t.amount INTO v_previous
        FROM bank.transactions t WHERE t.original_id = v_original.id AND t.kind = 'reversal';
        IF v_previous.id IS NOT NULL THEN
            PERFORM bank.audit(p_actor, 'reversal', v_previous.response_code,
                jsonb_build_object('replay_of', v_previous.id, 'original', v_original.id,
                    'terminal', p_terminal, 'stan', p_stan), p_ip, p_device);
            RETURN QUERY SELECT v_previous.response_code::text, v_previous.id, v_previous.amount::bigint, true,
                NULL::integer, NULL::text;
            RETURN;
        END IF;
        IF v_original.kind = 'voided' THEN
            v_note := 'the original had not arrived: its key is claimed, it will post nothing';
        ELSIF v_original.response_code <> '00' THEN
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
            'voided', v_voided IS NOT NULL, 'note', v_note),
        p_ip, p_device);
    RETURN QUERY SELECT v_code, v_txn, CASE WHEN v_code = '00' THEN v_amount ELSE 0::bigint END, false,
        NULL::integer, NULL::text;
END
$$;

REVOKE ALL ON FUNCTION bank.reverse(text, text, text, text, text, text, bytea, text, text, bigint, text, bigint, bytea)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.reverse(text, text, text, text, text, text, bytea, text, text, bigint, text, bigint, bytea)
    TO cashpoint_switch;
