-- The original a reversal advice names (the advice's terminal, field 90's STAN and transmission time),
-- and whether the advice agrees with it: the one recipe of the match. `mismatch` is the first field in
-- which they differ: 3 (the transaction type), 4 (the amount the original asked for), 2 (the card: for
-- an approved original, the card it was made with, bank.transactions.card_id, against the card the
-- advice's PAN names; a staff posting was made with none, so no card matches it). A refused original
-- moved nothing, so only 3 and 4 are compared. A 'voided' row, the key a reversal claimed for an
-- original that had not arrived, agrees with any advice. No row when nothing holds the key.
--
-- Called only by bank.reverse (SECURITY DEFINER, in the system context), before and after it claims
-- the original's key; one SQL query the planner inlines there. The switch answers a mismatch 12 with
-- `not the original: field N` in field 44 (CashpointBank.Bank.reverse).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.reversal_original(
    p_terminal text, p_stan text, p_transmitted text, p_kind text, p_amount bigint, p_pan_digest bytea)
RETURNS TABLE (id bigint, kind text, amount bigint, response_code text, mismatch integer)
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT t.id, t.kind::text, t.amount::bigint, t.response_code::text,
        CASE
            WHEN t.kind = 'voided' THEN NULL
            WHEN p_kind IS DISTINCT FROM t.kind::text THEN 3
            WHEN p_amount IS DISTINCT FROM t.amount::bigint THEN 4
            WHEN t.response_code = '00' AND (t.card_id IS NULL OR t.card_id IS DISTINCT FROM (
                SELECT c.id FROM bank.cards c WHERE c.pan_digest = p_pan_digest)) THEN 2
        END
    FROM bank.transactions t
    WHERE t.terminal_id = p_terminal AND t.stan = p_stan AND t.transmitted = p_transmitted
      AND t.kind IN ('withdrawal', 'deposit', 'transfer', 'voided')
$$;

REVOKE ALL ON FUNCTION bank.reversal_original(text, text, text, text, bigint, bytea) FROM PUBLIC;
