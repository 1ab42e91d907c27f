-- The unused recovery codes (bcrypt hashes) of a member of staff whose second factor is confirmed.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.staff_recovery_codes(p_user_id bigint)
RETURNS TABLE (code_id bigint, code_hash text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
    SELECT r.id, r.code_hash
    FROM bank.staff_recovery_codes r JOIN bank.staff_factors f ON f.user_id = r.user_id AND f.confirmed
    WHERE r.user_id = p_user_id AND r.used_at IS NULL
    ORDER BY r.id
$$;

REVOKE ALL ON FUNCTION bank.staff_recovery_codes(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.staff_recovery_codes(bigint) TO cashpoint_switch;
