-- 0024 (issue 21): transaction monitoring, alerts and cases (docs/compliance.md).
--
-- bank.aml_rule_sets / bank.aml_rules: the monitoring rules as data, loaded from a YAML file
-- (`atm-switch aml rules load`, parsed and validated by CashpointBank.MonitoringRules) as numbered
-- versions; bank.settings.aml_rules_version names the one in force. The first version is loaded
-- directly (audited); every later one is a held change, 'aml.rules', for a second person (four eyes).
-- bank.settings.monitoring_enabled: the off switch (owner only; scripts/bench-posting compares both).
--
-- Where rules run: 'velocity' inside bank.post (bank.velocity_refused, response 59); the others after
-- commit, from bank.monitoring_queue, an outbox row written by bank.post's own statement for every
-- approved (00) or velocity-refused (59) posting, which the switch's monitoring worker drains with
-- bank.monitor (FOR UPDATE SKIP LOCKED: several switches share it, each row is examined once).
-- Transaction ids come from an identity with CACHE 32 and commit out of order, so a "last id seen"
-- cursor would skip rows; a queue row commits with its posting or not at all.
--
-- bank.alerts: what a rule found (rule, subject, customer, transactions, amount, score, window); the same
-- rule, subject and overlapping window alert once (later transactions join that alert). Every alert
-- opens or joins the one active case of its subject (bank.cases: open -> assigned -> escalated ->
-- closed with a disposition), whose life is in bank.case_events; every step is audited.
SET LOCAL ROLE cashpoint_owner;

CREATE TABLE bank.aml_rule_sets (
    version integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_name text NOT NULL CHECK (length(source_name) BETWEEN 1 AND 200),
    source_digest bytea NOT NULL CHECK (length(source_digest) = 32),
    loaded_by text NOT NULL,
    change_id bigint REFERENCES bank.changes (id),
    loaded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bank.aml_rule_sets IS
    'Versions of the transaction-monitoring rules; source_digest: SHA-256 of the rules as loaded (canonical JSON).';

CREATE TABLE bank.aml_rules (
    version integer NOT NULL REFERENCES bank.aml_rule_sets (version),
    rule_id text NOT NULL CHECK (rule_id ~ '^[a-z][a-z0-9_-]{0,39}$'),
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 200),
    kind text NOT NULL,
    parameters jsonb NOT NULL CHECK (jsonb_typeof(parameters) = 'object'),
    time_window interval NOT NULL CHECK (time_window > interval '0'),
    severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    enabled boolean NOT NULL,
    PRIMARY KEY (version, rule_id),
    -- A new kind (the sanctioned or high-risk counterparty, with KYC) replaces this constraint.
    CONSTRAINT aml_rules_kind_check
        CHECK (kind IN ('structuring', 'velocity', 'cash_out_ring', 'pass_through', 'dormant_reactivated'))
);
COMMENT ON COLUMN bank.aml_rules.parameters IS
    'Per kind (amounts in minor units): structuring {direction, min_count, threshold}; velocity {max_count?, '
    'max_amount?}; cash_out_ring {min_cards}; pass_through {min_amount, out_percent}; dormant_reactivated {min_amount}.';

ALTER TABLE bank.settings
    ADD COLUMN aml_rules_version integer REFERENCES bank.aml_rule_sets (version),
    ADD COLUMN monitoring_enabled boolean NOT NULL DEFAULT true,
    ADD COLUMN cash_report_threshold bigint NOT NULL DEFAULT 1000000 CHECK (cash_report_threshold > 0);
COMMENT ON COLUMN bank.settings.cash_report_threshold IS
    'The daily cash transaction report lists every customer whose cash in or out in one day reaches this (minor units).';

-- Four eyes for a new version of the rules: another compliance officer checks it.
INSERT INTO bank.high_risk_operations (operation, description, above_amount, checker_roles) VALUES
    ('aml.rules', 'load a new version of the transaction-monitoring rules', NULL, ARRAY['compliance']);

-- The outbox: one row per posting to examine, written in bank.post's statement (no foreign key: the
-- row is written with its transaction, and the check would cost every posting a lookup).
CREATE TABLE bank.monitoring_queue (
    transaction_id bigint PRIMARY KEY,
    queued_at timestamptz NOT NULL DEFAULT now()
);

-- What the rules read: a card's and a terminal's withdrawals, an account's lines, by time.
CREATE INDEX transactions_card_withdrawals ON bank.transactions (card_id, created_at)
    WHERE kind = 'withdrawal' AND card_id IS NOT NULL;
CREATE INDEX transactions_terminal_withdrawals ON bank.transactions (terminal_id, created_at)
    WHERE kind = 'withdrawal';
CREATE INDEX history_account_time ON bank.history (account_id, created_at);

CREATE TABLE bank.cases (
    id bigserial PRIMARY KEY,
    -- 'customer:<user id>', or 'terminal:<id>' for a pattern of one machine (the cash-out ring).
    subject text NOT NULL CHECK (subject ~ '^(customer|terminal):.+$'),
    customer_id bigint REFERENCES bank.users (id),
    severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'assigned', 'escalated', 'closed')),
    opened_by text NOT NULL,
    opened_at timestamptz NOT NULL DEFAULT now(),
    assignee text,
    assigned_by text,
    closed_by text,
    closed_at timestamptz,
    disposition text CHECK (disposition IN ('false_positive', 'customer_contacted', 'report_filed')),
    CHECK ((status = 'closed') = (disposition IS NOT NULL AND closed_by IS NOT NULL)),
    CHECK (status = 'open' OR assignee IS NOT NULL)
);
CREATE UNIQUE INDEX cases_one_active ON bank.cases (subject) WHERE status <> 'closed';
CREATE INDEX cases_by_status ON bank.cases (status, id);

CREATE TABLE bank.alerts (
    id bigserial PRIMARY KEY,
    rule_id text NOT NULL,
    rule_version integer NOT NULL,
    kind text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    subject text NOT NULL,
    customer_id bigint REFERENCES bank.users (id),
    terminal_id text,
    transaction_ids bigint[] NOT NULL CHECK (cardinality(transaction_ids) >= 1),
    amount bigint NOT NULL,
    score numeric(6, 2) NOT NULL,
    detail text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end timestamptz NOT NULL CHECK (window_end >= window_start),
    raised_at timestamptz NOT NULL DEFAULT now(),
    case_id bigint NOT NULL REFERENCES bank.cases (id),
    FOREIGN KEY (rule_version, rule_id) REFERENCES bank.aml_rules (version, rule_id)
);
CREATE INDEX alerts_by_rule_subject ON bank.alerts (rule_id, subject, window_end);
CREATE INDEX alerts_by_case ON bank.alerts (case_id);

CREATE TABLE bank.case_events (
    id bigserial PRIMARY KEY,
    case_id bigint NOT NULL REFERENCES bank.cases (id),
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    event text NOT NULL CHECK (event IN ('opened', 'alert', 'assigned', 'escalated', 'note', 'closed')),
    status_after text NOT NULL,
    detail text CHECK (length(detail) <= 2000)
);
CREATE INDEX case_events_by_case ON bank.case_events (case_id, id);

-- The switch reads these through the functions only.
REVOKE ALL ON bank.aml_rule_sets, bank.aml_rules, bank.monitoring_queue, bank.cases, bank.alerts, bank.case_events
    FROM PUBLIC, cashpoint_switch;
