-- 0025 (issue 21): a new version of transaction monitoring's rules is checked by a second compliance
-- officer only. 0024 also named administrators; cases, reports and the rules are the compliance role's
-- alone (segregation of duties: who makes staff and changes roles does not also clear alerts or decide
-- what is watched), as the permission table (CashpointBank.Permissions, workCases) and the case
-- functions' role checks say.
SET LOCAL ROLE cashpoint_owner;

UPDATE bank.high_risk_operations SET checker_roles = ARRAY['compliance'] WHERE operation = 'aml.rules';
