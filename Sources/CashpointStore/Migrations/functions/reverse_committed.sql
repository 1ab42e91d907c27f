-- bank.reverse whose answer is sent only once it has committed: why and how as bank.post_committed.
-- requires: reverse
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.reverse_committed(
    p_actor text, p_ip text, p_device text,
    p_terminal text, p_stan text, p_transmitted text, p_digest bytea,
    p_original_stan text, p_original_transmitted text, p_dispensed bigint,
    p_kind text, p_amount bigint, p_pan_digest bytea,
    INOUT response_code text DEFAULT NULL, INOUT transaction_id bigint DEFAULT NULL,
    INOUT reversed_amount bigint DEFAULT NULL, INOUT replayed boolean DEFAULT NULL,
    INOUT mismatch_field integer DEFAULT NULL, INOUT original_kind text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.response_code, r.transaction_id, r.reversed_amount, r.replayed, r.mismatch_field, r.original_kind
    INTO response_code, transaction_id, reversed_amount, replayed, mismatch_field, original_kind
    FROM bank.reverse(p_actor, p_ip, p_device, p_terminal, p_stan, p_transmitted, p_digest,
        p_original_stan, p_original_transmitted, p_dispensed, p_kind, p_amount, p_pan_digest) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.reverse_committed(text, text, text, text, text, text, bytea, text, text, bigint, text, bigint, bytea, text, bigint, bigint, boolean, integer, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.reverse_committed(text, text, text, text, text, text, bytea, text, text, bigint, text, bigint, bytea, text, bigint, bigint, boolean, integer, text) TO cashpoint_switch;
