-- 0001: roles, the bank schema and its tables.
--
-- Two roles, cluster-wide, created once:
--   cashpoint_owner  (NOLOGIN) owns every object; the SECURITY DEFINER functions run as it.
--   cashpoint_switch (LOGIN)   what the switch connects as: owns nothing, may only execute the
--                              functions granted to it and read what verification needs.
-- Row-level security is FORCED on the tables that hold customers' data, so it binds the owner too:
-- the functions see only the rows the transaction's context (cashpoint.role, cashpoint.user_id)
-- allows.
-- Roles are shared by every database of the cluster: two databases migrated at once may both try to
-- create them, so "already exists" (from either check) is not an error.
DO $$
BEGIN
    CREATE ROLE cashpoint_owner NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
DO $$
BEGIN
    CREATE ROLE cashpoint_switch LOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE SCHEMA bank AUTHORIZATION cashpoint_owner;
REVOKE ALL ON SCHEMA bank FROM PUBLIC;
GRANT USAGE ON SCHEMA bank TO cashpoint_switch;

SET LOCAL ROLE cashpoint_owner;
ALTER DEFAULT PRIVILEGES FOR ROLE cashpoint_owner IN SCHEMA bank REVOKE ALL ON TABLES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE cashpoint_owner IN SCHEMA bank REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Settings of the installation: currency, limits. One row.
CREATE TABLE bank.settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    currency char(3) NOT NULL CHECK (currency ~ '^[0-9]{3}$'),
    max_pin_tries int NOT NULL DEFAULT 3 CHECK (max_pin_tries BETWEEN 1 AND 10),
    max_password_tries int NOT NULL DEFAULT 5 CHECK (max_password_tries BETWEEN 1 AND 20)
);

CREATE TABLE bank.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_name text NOT NULL UNIQUE CHECK (user_name ~ '^[a-z0-9._-]{3,32}$'),
    full_name text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 80),
    role text NOT NULL CHECK (role IN ('customer', 'teller', 'admin')),
    -- bcrypt of a keyed digest of user name and password; customers who only use cards have none.
    password_hash text CHECK (password_hash IS NULL OR password_hash ~ '^\$2[aby]\$'),
    failed_attempts int NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (role = 'customer' OR password_hash IS NOT NULL)
);

CREATE TABLE bank.accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_no text NOT NULL UNIQUE CHECK (length(account_no) BETWEEN 4 AND 28),
    name text NOT NULL,
    -- customer: a customer's money (never negative). The others are the bank's internal accounts,
    -- the other side of every line: each terminal's cash, each teller's drawer, opening balances.
    kind text NOT NULL CHECK (kind IN ('customer', 'terminal_cash', 'teller_drawer', 'bank_equity')),
    user_id bigint REFERENCES bank.users (id),
    currency char(3) NOT NULL,
    balance bigint NOT NULL DEFAULT 0,
    failed_attempts int NOT NULL DEFAULT 0,
    is_locked boolean NOT NULL DEFAULT false,
    daily_withdrawal_limit bigint NOT NULL DEFAULT 100000 CHECK (daily_withdrawal_limit >= 0),
    daily_withdrawal_count int NOT NULL DEFAULT 10 CHECK (daily_withdrawal_count >= 0),
    limits_day date NOT NULL DEFAULT current_date,
    withdrawn_today bigint NOT NULL DEFAULT 0,
    withdrawals_today int NOT NULL DEFAULT 0,
    -- How many ledger lines the account has: the next line is line_count + 1.
    line_count bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'customer') = (user_id IS NOT NULL)),
    CHECK (kind <> 'customer' OR balance >= 0)
);
CREATE INDEX accounts_user ON bank.accounts (user_id);

CREATE TABLE bank.terminals (
    id text PRIMARY KEY CHECK (id ~ '^[A-Z0-9]{1,8}$'),
    kind text NOT NULL CHECK (kind IN ('atm', 'branch')),
    location text NOT NULL DEFAULT '',
    cash_account_id bigint NOT NULL UNIQUE REFERENCES bank.accounts (id),
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bank.cards (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- HMAC-SHA-256 of the PAN under the pepper: the card is found by it; the PAN is never stored.
    pan_digest bytea NOT NULL UNIQUE CHECK (length(pan_digest) = 32),
    pan_masked text NOT NULL,
    user_id bigint NOT NULL REFERENCES bank.users (id),
    -- bcrypt of HMAC-SHA-256(pepper, PAN, PIN): useless without the pepper, and bound to this PAN.
    pin_hash text NOT NULL CHECK (pin_hash ~ '^\$2[aby]\$'),
    expiry date NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked', 'captured', 'closed')),
    pin_tries int NOT NULL DEFAULT 0 CHECK (pin_tries >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cards_user ON bank.cards (user_id);

CREATE TABLE bank.card_accounts (
    card_id bigint NOT NULL REFERENCES bank.cards (id),
    account_id bigint NOT NULL REFERENCES bank.accounts (id),
    is_default boolean NOT NULL DEFAULT false,
    PRIMARY KEY (card_id, account_id)
);
CREATE UNIQUE INDEX card_accounts_one_default ON bank.card_accounts (card_id) WHERE is_default;

-- One row per money movement request that reached the ledger, approved or refused: its idempotency
-- key (terminal, STAN, transmission time), a digest of its content, and its answer.
CREATE TABLE bank.transactions (
    id bigint GENERATED ALWAYS AS IDENTITY (CACHE 32) PRIMARY KEY,
    terminal_id text NOT NULL,
    stan text NOT NULL CHECK (length(stan) = 6),
    transmitted text NOT NULL CHECK (length(transmitted) = 10),
    request_digest bytea NOT NULL,
    kind text NOT NULL CHECK (kind IN ('withdrawal', 'deposit', 'transfer', 'reversal', 'opening')),
    amount bigint NOT NULL CHECK (amount >= 0),
    response_code text NOT NULL CHECK (length(response_code) = 2),
    auth_code text,
    account_id bigint,
    balance_after bigint,
    original_id bigint REFERENCES bank.transactions (id),
    actor text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT transactions_idempotency_key UNIQUE (terminal_id, stan, transmitted)
);
-- A reversal happens once per original, however often it is sent.
CREATE UNIQUE INDEX transactions_one_reversal ON bank.transactions (original_id) WHERE kind = 'reversal';

-- The ledger: balanced lines, append-only. Each line records the balance after it.
-- Lines are written only by the posting functions, which take them from locked rows; the foreign
-- keys are left out to keep a posting's cost down (measured: about 10% of throughput), and
-- `atm-switch ledger verify` checks that every line names a transaction and an account.
CREATE TABLE bank.history (
    id bigint GENERATED ALWAYS AS IDENTITY (CACHE 32) PRIMARY KEY,
    transaction_id bigint NOT NULL,
    account_id bigint NOT NULL,
    -- The line's number in its account, 1, 2, 3...: taken from accounts.line_count while the account
    -- is locked, so it orders the balance-after chain that ledger verify walks.
    line_no bigint NOT NULL CHECK (line_no >= 1),
    amount bigint NOT NULL CHECK (amount <> 0),
    balance_after bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX history_account_line ON bank.history (account_id, line_no);
CREATE INDEX history_transaction ON bank.history (transaction_id);

-- The audit log: append-only, hash-chained by bank.audit_seals.
CREATE TABLE bank.audit_logs (
    -- Not cached: ids follow insertion closely, which the sealer's look-back relies on.
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor text NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    ip text,
    device text
);
CREATE INDEX audit_logs_actor ON bank.audit_logs (actor, id);

-- The chain: the sealer (one at a time, under an advisory lock) links each audit row, in the order
-- it seals them, to the one before: link = HMAC-SHA-256(audit key, previous link || row). The key is
-- outside the database, so not even a superuser can re-forge the chain after changing a row. One
-- seal row holds a batch: its rows' ids in chain order and their links, 32 bytes each.
-- The sealer's own bookkeeping travels with each seal: every id up to scanned_to has been seen,
-- sealed, or is listed in pending_ids (written but not committed when it looked, or rolled back).
-- The next batch reads only ids above scanned_to and the pending ones: no scan of sealed history.
CREATE TABLE bank.audit_seals (
    seq bigint PRIMARY KEY CHECK (seq >= 1),
    first_id bigint NOT NULL,
    last_id bigint NOT NULL,
    audit_ids bigint[] NOT NULL,
    links bytea NOT NULL,
    scanned_to bigint NOT NULL,
    pending_ids bigint[] NOT NULL DEFAULT '{}',
    sealed_at timestamptz NOT NULL DEFAULT now(),
    CHECK (cardinality(audit_ids) >= 1 AND length(links) = 32 * cardinality(audit_ids))
);
CREATE INDEX audit_seals_last_id ON bank.audit_seals (last_id);

-- Append-only, by trigger (for everyone, the owner included) and by privilege (below).
CREATE FUNCTION bank.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'bank.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON bank.history
    FOR EACH ROW EXECUTE FUNCTION bank.refuse_change();
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON bank.history
    FOR EACH STATEMENT EXECUTE FUNCTION bank.refuse_change();
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON bank.audit_logs
    FOR EACH ROW EXECUTE FUNCTION bank.refuse_change();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON bank.audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION bank.refuse_change();
CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON bank.audit_seals
    FOR EACH ROW EXECUTE FUNCTION bank.refuse_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON bank.audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION bank.refuse_change();

-- A transaction's answer is written once; only a reversal's link to it may be added later.
CREATE FUNCTION bank.transactions_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'bank.transactions rows are never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'bank.transactions rows are never changed' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER transactions_append_only BEFORE UPDATE OR DELETE ON bank.transactions
    FOR EACH ROW EXECUTE FUNCTION bank.transactions_guard();
CREATE TRIGGER transactions_no_truncate BEFORE TRUNCATE ON bank.transactions
    FOR EACH STATEMENT EXECUTE FUNCTION bank.refuse_change();

-- Row-level security. The context is set per transaction by the functions below:
--   cashpoint.role    customer | teller | admin | system
--   cashpoint.user_id the customer's user id (customer context only)
CREATE FUNCTION bank.context_role() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT coalesce(nullif(current_setting('cashpoint.role', true), ''), 'none') $$;

CREATE FUNCTION bank.context_user() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('cashpoint.user_id', true), '')::bigint $$;

ALTER TABLE bank.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE bank.accounts FORCE ROW LEVEL SECURITY;
-- Staff and the system see every account; a customer context sees its own accounts and the bank's
-- internal accounts (the other side of its lines), never another customer's.
CREATE POLICY accounts_by_context ON bank.accounts
    USING (
        bank.context_role() IN ('teller', 'admin', 'system')
        OR (bank.context_role() = 'customer' AND (kind <> 'customer' OR user_id = bank.context_user()))
    );

ALTER TABLE bank.history ENABLE ROW LEVEL SECURITY;
ALTER TABLE bank.history FORCE ROW LEVEL SECURITY;
CREATE POLICY history_read ON bank.history FOR SELECT
    USING (
        bank.context_role() IN ('teller', 'admin', 'system')
        OR (bank.context_role() = 'customer'
            AND account_id IN (SELECT id FROM bank.accounts WHERE user_id = bank.context_user()))
    );
-- A line may be written only for an account the context can see.
CREATE POLICY history_write ON bank.history FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM bank.accounts a WHERE a.id = account_id));

ALTER TABLE bank.cards ENABLE ROW LEVEL SECURITY;
ALTER TABLE bank.cards FORCE ROW LEVEL SECURITY;
CREATE POLICY cards_by_context ON bank.cards
    USING (
        bank.context_role() IN ('teller', 'admin', 'system')
        OR (bank.context_role() = 'customer' AND user_id = bank.context_user())
    );
