-- bank.replenish whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: replenish
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.replenish_committed(
    p_actor text, p_ip text, p_device text, p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_unloaded bigint, p_loaded bigint,
    INOUT response_code text DEFAULT NULL, INOUT transaction_id bigint DEFAULT NULL,
    INOUT cash_held bigint DEFAULT NULL, INOUT replayed boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.transaction_id, r.cash_held, r.replayed
    INTO response_code, transaction_id, cash_held, replayed
    FROM bank.replenish(p_actor, p_ip, p_device, p_terminal, p_stan, p_transmitted, p_digest,
        p_unloaded, p_loaded) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.replenish_committed(text, text, text, text, text, text, bytea, bigint, bigint, text, bigint, bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.replenish_committed(text, text, text, text, text, text, bytea, bigint, bigint, text, bigint, bigint, boolean) TO cashpoint_switch;
