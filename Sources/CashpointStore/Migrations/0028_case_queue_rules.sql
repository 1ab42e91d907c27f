-- 0028 (issue 21, the case desk): bank.list_cases also answers the rules behind each case's alerts (the
-- desk's queue shows them). Its result type changes, which CREATE OR REPLACE cannot do: the old
-- definition goes here, and functions/list_cases.sql makes the new one.
SET LOCAL ROLE cashpoint_owner;

DROP FUNCTION IF EXISTS bank.list_cases(text, text, text, text, text, int, int);
