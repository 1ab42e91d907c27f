-- 0021 (issue 20): a second factor for staff and four eyes for high-risk operations.
--
-- bank.staff_factors: each teller's and administrator's TOTP secret (RFC 6238), sealed by the switch
-- under its own key (AES-GCM, as terminal keys are: the database never holds it in clear), with the last
-- time step accepted, so a code is used once: bank.record_staff_login advances it in the statement that
-- accepts the code. A factor is `confirmed` once its owner typed a right code from it.
-- bank.staff_recovery_codes: ten single-use codes per user, bcrypt hashes, used_at once used.
-- bank.enrolment_codes: one one-time enrolment code per user (a keyed digest, as PANs are), 24 hours.
--
-- bank.high_risk_operations: the four-eyes table (what is held for a second person, above which
-- amount, who may check). bank.changes: the held changes, with maker, reason, the state they were asked
-- against (as text and its SHA-256) and their life: pending, then approved and applied (in one
-- transaction), rejected, expired or failed (the state changed since). At most one pending change per
-- operation and target.
SET LOCAL ROLE cashpoint_owner;

CREATE TABLE bank.staff_factors (
    user_id bigint PRIMARY KEY REFERENCES bank.users (id),
    sealed_secret bytea NOT NULL,
    algorithm text NOT NULL DEFAULT 'SHA1' CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
    digits int NOT NULL DEFAULT 6 CHECK (digits IN (6, 8)),
    period int NOT NULL DEFAULT 30 CHECK (period = 30),
    confirmed boolean NOT NULL DEFAULT false,
    last_step bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    confirmed_at timestamptz
);
COMMENT ON TABLE bank.staff_factors IS
    'Staff TOTP secrets, sealed by the switch (AES-GCM under its key); last_step: the last time step accepted.';

CREATE TABLE bank.staff_recovery_codes (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES bank.users (id),
    code_hash text NOT NULL CHECK (code_hash ~ '^\$2[aby]\$'),
    used_at timestamptz
);
CREATE INDEX staff_recovery_codes_unused ON bank.staff_recovery_codes (user_id) WHERE used_at IS NULL;

CREATE TABLE bank.enrolment_codes (
    user_id bigint PRIMARY KEY REFERENCES bank.users (id),
    code_digest bytea NOT NULL,
    issued_by text NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE bank.high_risk_operations (
    operation text PRIMARY KEY,
    description text NOT NULL,
    above_amount bigint CHECK (above_amount IS NULL OR above_amount >= 0),
    checker_roles text[] NOT NULL CHECK (checker_roles <@ ARRAY['teller', 'admin'])
);
COMMENT ON COLUMN bank.high_risk_operations.above_amount IS
    'Held only above this amount (minor units); NULL: always held.';
INSERT INTO bank.high_risk_operations (operation, description, above_amount, checker_roles) VALUES
    ('user.unlock', 'unlock a user', NULL, ARRAY['teller', 'admin']),
    ('account.unlock', 'unlock an account', NULL, ARRAY['teller', 'admin']),
    ('card.unlock', 'unblock a blocked or captured card', NULL, ARRAY['teller', 'admin']),
    ('desk.withdrawal', 'a withdrawal at the desk above the amount', 100000, ARRAY['teller', 'admin']),
    ('desk.deposit', 'a deposit at the desk above the amount', 500000, ARRAY['teller', 'admin']),
    ('account.limits', 'change an account''s daily limits', NULL, ARRAY['teller', 'admin']),
    ('staff.create', 'create a teller or administrator', NULL, ARRAY['admin']),
    ('user.role', 'change a member of staff''s role', NULL, ARRAY['admin']),
    ('factor.reset', 'reset a member of staff''s second factor', NULL, ARRAY['admin']);

CREATE TABLE bank.changes (
    id bigserial PRIMARY KEY,
    operation text NOT NULL REFERENCES bank.high_risk_operations (operation),
    target text NOT NULL,
    payload jsonb NOT NULL,
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    maker_id bigint NOT NULL REFERENCES bank.users (id),
    maker_name text NOT NULL,
    maker_role text NOT NULL,
    maker_ip text,
    maker_device text,
    state_before text NOT NULL,
    state_after text NOT NULL,
    state_digest bytea NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'applied', 'rejected', 'expired', 'failed')),
    checker_id bigint REFERENCES bank.users (id),
    checker_name text,
    decided_at timestamptz,
    decision_reason text,
    result_code text,
    CHECK (checker_id IS NULL OR checker_id <> maker_id)
);
CREATE UNIQUE INDEX changes_one_pending ON bank.changes (operation, target) WHERE status = 'pending';
CREATE INDEX changes_by_status ON bank.changes (status, id);

ALTER TABLE bank.settings ADD COLUMN change_lifetime interval NOT NULL DEFAULT interval '24 hours'
    CHECK (change_lifetime > interval '0');
