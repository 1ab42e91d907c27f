-- 0022 (issue 20): staff sign-on has one recorder, bank.record_staff_login, which counts wrong
-- passwords and wrong one-time codes together and clears the count only when the second factor is
-- right. bank.record_login (a right password cleared the count at once, so codes could be guessed
-- without end) is no longer called by the switch, and goes.
SET LOCAL ROLE cashpoint_owner;

DROP FUNCTION IF EXISTS bank.record_login(bigint, boolean, text, text, text);
