-- The four-eyes rule for who may check a held change, in one place (approve and reject both ask):
-- NULL when p_user_id (with role p_role, named p_actor) may check it, else why not (for field 44):
-- not the maker, not a change of the checker's own user or own account, and a role the four-eyes
-- table names for the operation.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.checker_refusal(p_change bank.changes, p_user_id bigint, p_actor text, p_role text)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
DECLARE
    v_roles text[];
    v_refusal text;
BEGIN
    SELECT h.checker_roles INTO v_roles FROM bank.high_risk_operations h WHERE h.operation = p_change.operation;
    -- Accounts are read under forced row-level security: the system context sees their owners.
    PERFORM set_config('cashpoint.role', 'system', true);
    v_refusal := CASE
        WHEN p_change.maker_id = p_user_id THEN 'maker cannot check it'
        WHEN p_change.operation IN ('user.unlock', 'user.role', 'factor.reset') AND p_change.target = p_actor
            THEN 'change of own user'
        WHEN p_change.operation IN ('account.unlock', 'account.limits', 'desk.withdrawal', 'desk.deposit')
            AND EXISTS (
                SELECT 1 FROM bank.accounts a
                WHERE a.account_no = split_part(p_change.target, '|', 1) AND a.user_id = p_user_id
            )
            THEN 'change of own account'
        WHEN NOT p_role = ANY (v_roles) THEN 'checker role: ' || array_to_string(v_roles, '/')
    END;
    PERFORM set_config('cashpoint.role', p_role, true);
    RETURN v_refusal;
END
$$;

REVOKE ALL ON FUNCTION bank.checker_refusal(bank.changes, bigint, text, text) FROM PUBLIC;
