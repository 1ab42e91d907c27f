-- bank.reconcile whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: reconcile
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.reconcile_committed(
    p_actor text, p_ip text, p_device text, p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_settlement_date text, p_terminal_figures jsonb,
    INOUT response_code text DEFAULT NULL, INOUT switch_figures text DEFAULT NULL,
    INOUT cash_held bigint DEFAULT NULL, INOUT cutover_id bigint DEFAULT NULL, INOUT replayed boolean DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.switch_figures::text, r.cash_held, r.cutover_id, r.replayed
    INTO response_code, switch_figures, cash_held, cutover_id, replayed
    FROM bank.reconcile(p_actor, p_ip, p_device, p_terminal, p_stan, p_transmitted, p_digest,
        p_settlement_date, p_terminal_figures) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.reconcile_committed(text, text, text, text, text, text, bytea, text, jsonb, text, text, bigint, bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.reconcile_committed(text, text, text, text, text, text, bytea, text, jsonb, text, text, bigint, bigint, boolean) TO cashpoint_switch;
