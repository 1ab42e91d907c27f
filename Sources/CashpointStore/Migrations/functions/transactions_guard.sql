-- A transaction's answer is written once; only a reversal's link to it may be added later.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.transactions_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'bank.transactions rows are never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'bank.transactions rows are never changed' USING ERRCODE = 'insufficient_privilege';
END
$$;

REVOKE ALL ON FUNCTION bank.transactions_guard() FROM PUBLIC;
