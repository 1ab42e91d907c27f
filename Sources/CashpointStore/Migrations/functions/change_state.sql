-- The state a held change is asked against and what approval would make it, as text for people
-- (the desk's before -> after); NULL before when the target does not exist. Approval compares the
-- SHA-256 of `before` now with the one stored when the change was asked for.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.change_state(p_operation text, p_target text, p_payload jsonb)
RETURNS TABLE (state_before text, state_after text)
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
DECLARE
    v_user record;
    v_account record;
    v_card record;
    v_account_no text := split_part(p_target, '|', 1);
BEGIN
    -- Accounts and cards are read under forced row-level security: the system context sees them.
    PERFORM set_config('cashpoint.role', 'system', true), set_config('cashpoint.user_id', '', true);
    CASE
    WHEN p_operation IN ('user.unlock', 'user.role', 'factor.reset', 'staff.create') THEN
        SELECT u.user_name, u.role, u.locked, u.failed_attempts, f.confirmed, f.confirmed_at INTO v_user
        FROM bank.users u LEFT JOIN bank.staff_factors f ON f.user_id = u.id WHERE u.user_name = p_target;
        IF p_operation = 'staff.create' THEN
            state_before := CASE WHEN v_user.user_name IS NULL THEN format('no user %s', p_target) END;
            state_after := format('%s %s (%s), no second factor yet', p_payload->>'role', p_target, p_payload->>'full_name');
        ELSIF v_user.user_name IS NOT NULL AND (p_operation = 'user.unlock' OR v_user.role <> 'customer') THEN
            state_before := format('%s %s: %s, %s failed tries, second factor %s', v_user.role, v_user.user_name,
                CASE WHEN v_user.locked THEN 'locked' ELSE 'not locked' END, v_user.failed_attempts,
                CASE WHEN v_user.confirmed THEN 'enrolled ' || to_char(v_user.confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC'
                     WHEN v_user.confirmed IS NOT NULL THEN 'being enrolled' ELSE 'none' END);
            state_after := CASE p_operation
                WHEN 'user.unlock' THEN format('%s %s: not locked, 0 failed tries', v_user.role, v_user.user_name)
                WHEN 'user.role' THEN format('%s %s', p_payload->>'role', v_user.user_name)
                ELSE format('%s %s: second factor removed, an enrolment code issued', v_user.role, v_user.user_name) END;
        END IF;
    WHEN p_operation IN ('account.unlock', 'account.limits', 'desk.withdrawal', 'desk.deposit') THEN
        SELECT a.account_no, a.is_locked, a.daily_withdrawal_limit, a.daily_withdrawal_count INTO v_account
        FROM bank.accounts a WHERE a.account_no = v_account_no AND a.kind = 'customer';
        IF v_account.account_no IS NOT NULL THEN
            state_before := format('account %s: %s, daily limits %s.%s and %s withdrawals', v_account.account_no,
                CASE WHEN v_account.is_locked THEN 'locked' ELSE 'open' END,
                v_account.daily_withdrawal_limit / 100, lpad((v_account.daily_withdrawal_limit % 100)::text, 2, '0'),
                v_account.daily_withdrawal_count);
            state_after := CASE p_operation
                WHEN 'account.unlock' THEN format('account %s: open', v_account.account_no)
                WHEN 'account.limits' THEN format('account %s: daily limits %s and %s withdrawals', v_account.account_no,
                    coalesce(((p_payload->>'daily_limit')::bigint / 100)::text || '.'
                        || lpad(((p_payload->>'daily_limit')::bigint % 100)::text, 2, '0'), 'unchanged'),
                    coalesce(p_payload->>'daily_count', 'unchanged'))
                ELSE format('%s of %s.%s at the desk, account %s', substr(p_operation, 6),
                    (p_payload->>'amount')::bigint / 100, lpad(((p_payload->>'amount')::bigint % 100)::text, 2, '0'),
                    v_account.account_no) END;
        END IF;
    WHEN p_operation = 'card.unlock' THEN
        SELECT c.pan_masked AS masked_pan, c.status, c.pin_tries INTO v_card FROM bank.cards c WHERE c.pan_digest = decode(p_target, 'hex');
        IF v_card.masked_pan IS NOT NULL THEN
            state_before := format('card %s: %s, %s wrong PINs', v_card.masked_pan, v_card.status, v_card.pin_tries);
            state_after := format('card %s: active, 0 wrong PINs', v_card.masked_pan);
        END IF;
    WHEN p_operation = 'kyc.verify' THEN
        SELECT u.user_name, i.status, i.risk_rating, i.risk_reasons INTO v_user
        FROM bank.customer_identities i JOIN bank.users u ON u.id = i.user_id
        WHERE p_target ~ '^[0-9]{1,18}$' AND i.user_id = p_target::bigint;
        IF v_user.user_name IS NOT NULL THEN
            state_before := format('customer %s (%s): KYC %s, risk %s (%s)', p_target, v_user.user_name, v_user.status,
                v_user.risk_rating, array_to_string(v_user.risk_reasons, '; '));
            state_after := format('customer %s (%s): KYC verified, review in %s months', p_target, v_user.user_name,
                p_payload->>'review_months');
        END IF;
    WHEN p_operation = 'aml.rules' THEN
        -- The monitoring rules: the version in force now, and the set asked for (0024).
        SELECT format('monitoring rules version %s from %s (%s): %s rules, %s enabled', r.version, r.source_name,
                substr(encode(r.source_digest, 'hex'), 1, 12), count(x.rule_id), count(x.rule_id) FILTER (WHERE x.enabled))
        INTO state_before
        FROM bank.settings s JOIN bank.aml_rule_sets r ON r.version = s.aml_rules_version
        JOIN bank.aml_rules x ON x.version = r.version
        GROUP BY r.version, r.source_name, r.source_digest;
        SELECT format('monitoring rules from %s (%s): %s rules, %s enabled: %s', p_payload->>'source',
                substr(p_payload->>'digest', 1, 12), count(*), count(*) FILTER (WHERE (x->>'enabled')::boolean),
                string_agg(x->>'id', ', ' ORDER BY x->>'id'))
        INTO state_after
        FROM jsonb_array_elements(p_payload->'rules') x;
    ELSE
        RAISE EXCEPTION 'unknown high-risk operation %', p_operation USING ERRCODE = 'invalid_parameter_value';
    END CASE;
    PERFORM set_config('cashpoint.role', '', true);
    RETURN NEXT;
END
$$;

REVOKE ALL ON FUNCTION bank.change_state(text, text, jsonb) FROM PUBLIC;
