-- bank.audit for what the switch itself refused (a token, a MAC, the permission table), sent only once it has
-- committed: why and how as bank.post_committed. The answer to the request is sent after its audit row is
-- there.
-- requires: audit
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.audit_committed(
    p_actor text, p_action text, p_outcome text, p_details jsonb, p_ip text, p_device text,
    INOUT id bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    id := bank.audit(p_actor, p_action, p_outcome, p_details, p_ip, p_device);
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.audit_committed(text, text, text, jsonb, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.audit_committed(text, text, text, jsonb, text, text, bigint) TO cashpoint_switch;
