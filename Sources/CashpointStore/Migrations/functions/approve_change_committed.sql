-- bank.approve_change whose answer is sent only once it has committed: why and how as bank.post_committed.
-- An approval that applies a held desk withdrawal or deposit posts it under the maker's idempotency key,
-- but the approval itself has no key of its own: the store does not ask again after a lost connection,
-- and the checker's 91 is in doubt (`CHANGE` then shows it 'applied' or 'failed', or still 'pending').
-- requires: approve_change
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.approve_change_committed(
    p_role text, p_user_id bigint, p_actor text, p_ip text, p_device text, p_id bigint,
    p_enrolment_digest bytea, INOUT response_code text DEFAULT NULL, INOUT detail text DEFAULT NULL,
    INOUT operation text DEFAULT NULL, INOUT balance_after bigint DEFAULT NULL,
    INOUT auth_code text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.detail, r.operation, r.balance_after, r.auth_code
    INTO response_code, detail, operation, balance_after, auth_code
    FROM bank.approve_change(p_role, p_user_id, p_actor, p_ip, p_device, p_id, p_enrolment_digest) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.approve_change_committed(text, bigint, text, text, text, bigint, bytea, text, text, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.approve_change_committed(text, bigint, text, text, text, bigint, bytea, text, text, text, bigint, text) TO cashpoint_switch;
