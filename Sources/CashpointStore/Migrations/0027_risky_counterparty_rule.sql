-- 0027 (issue 21): transaction monitoring's sixth kind of rule, 'risky_counterparty' (after commit): an
-- approved transfer of at least the rule's amount to or from a customer whose sanctions screening is a
-- hit, whose KYC was rejected, or whose risk rating reaches the rule's (know your customer, 0023). Its
-- detector is bank.aml_risky_counterparty; this widens bank.aml_rules' kind check (0024) to it.
SET LOCAL ROLE cashpoint_owner;

ALTER TABLE bank.aml_rules DROP CONSTRAINT aml_rules_kind_check;
ALTER TABLE bank.aml_rules ADD CONSTRAINT aml_rules_kind_check
    CHECK (kind IN ('structuring', 'velocity', 'cash_out_ring', 'pass_through', 'dormant_reactivated',
        'risky_counterparty'));
