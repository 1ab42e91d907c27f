-- 0030 (issue 21): the pass-through rule examines an account, not each posting. A busy account (a
-- merchant's, a payroll account, the posting benchmark's) moves thousands of times a day, and reading
-- its 24-hour windows again for every posting made the monitoring worker cost a third of the machine's
-- posting rate. Now a round notes each customer account its postings touched in bank.monitoring_due
-- (one row per rule and account, the earliest and latest posting time noted), and the account is
-- examined once that row is due: `monitoring_account_delay` after it was first noted (default one
-- minute; zero examines it in the same round), over every window that holds any posting noted. A
-- pattern that takes hours is alerted at most a minute later; each account's windows are read once a
-- minute at most, whatever its rate. bank.aml_pass_through(rule, txn) becomes
-- bank.aml_pass_through(rule, account, from, to); bank.monitor changes with it.
SET LOCAL ROLE cashpoint_owner;

ALTER TABLE bank.settings
    ADD COLUMN monitoring_account_delay interval NOT NULL DEFAULT '1 minute'
        CHECK (monitoring_account_delay BETWEEN '0'::interval AND '1 day'::interval);
COMMENT ON COLUMN bank.settings.monitoring_account_delay IS
    'How long after an account''s first posting noted the pass-through rule examines it, over every posting noted meanwhile.';

CREATE TABLE bank.monitoring_due (
    rule_id text NOT NULL,
    account_id bigint NOT NULL,
    first_at timestamptz NOT NULL,
    last_at timestamptz NOT NULL CHECK (last_at >= first_at),
    due_at timestamptz NOT NULL,
    PRIMARY KEY (rule_id, account_id)
);
CREATE INDEX monitoring_due_by_time ON bank.monitoring_due (due_at);
REVOKE ALL ON bank.monitoring_due FROM PUBLIC, cashpoint_switch;

-- (A fresh database gets its functions after every migration: there is nothing to drop yet.)
DROP FUNCTION IF EXISTS bank.aml_pass_through(bank.aml_rules, bank.transactions);

-- bank.monitor calls each kind's detector itself: a second PL/pgSQL call per rule and posting was a
-- third of a round's time.
DROP FUNCTION IF EXISTS bank.aml_detect(bank.aml_rules, bank.transactions);
