-- An account has a user exactly when it is a customer's (constraint accounts_check: SQLSTATE 23514,
-- check_violation, and the constraint's name in the error). A trigger on INSERT and on UPDATE OF kind,
-- user_id: it fires exactly when the rule can be broken (an account is opened, or its kind or owner is
-- changed). accounts_check1 (a customer's balance is never negative) is a CHECK: every posting can break it.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.accounts_owner_matches_kind() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, bank AS $$
BEGIN
    IF (NEW.kind = 'customer') <> (NEW.user_id IS NOT NULL) THEN
        RAISE EXCEPTION 'an account has a user exactly when it is a customer''s (account %, kind %)',
            NEW.account_no, NEW.kind
            USING ERRCODE = 'check_violation', CONSTRAINT = 'accounts_check', TABLE = 'accounts', SCHEMA = 'bank';
    END IF;
    RETURN NEW;
END
$$;
