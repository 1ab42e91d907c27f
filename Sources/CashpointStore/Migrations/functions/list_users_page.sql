-- bank.list_users_page: USERS (0600), one page: p_limit users (1-50) after skipping p_skip, by id, and
-- the number of users in all on every row. A page past the end is one row with the total and NULL
-- user columns, so the count still comes back. Admin only; audited as users.list.
SET LOCAL ROLE cashpoint_owner;

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

REVOKE ALL ON FUNCTION bank.list_users_page(text, text, text, text, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.list_users_page(text, text, text, text, int, int) TO cashpoint_switch;
