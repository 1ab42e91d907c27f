-- Append-only tables refuse UPDATE, DELETE and TRUNCATE by trigger, for everyone, the owner included.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'bank.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

REVOKE ALL ON FUNCTION bank.refuse_change() FROM PUBLIC;
