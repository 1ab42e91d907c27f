-- 0019 (issue 19): a card's state has one owner, CashpointBank.CardRules. The SQL functions that read a
-- card return facts instead of answers: its status, whether it is past its expiry (now also checked
-- within a card session), whether its customer is locked, whether the session has ended; and
-- bank.record_pin_attempt the try counter and status after the check instead of 00, 55 or 75 (it had
-- answered 75 for every status but active, where the card rules say 62 for a closed card). A PIN change
-- checks the card as a session's other requests do, in the same call.
--
-- Each function below changes its arguments or return type, so the old one is dropped here and its file
-- (functions/NAME.sql) creates the new one. bank.card_session goes for good: nothing has called it since
-- 0017 (bank.card_session_refused does its work inside the posting call). IF EXISTS: on a fresh database
-- the session forms of bank.post and bank.balance do not exist yet (their files make them).
SET LOCAL ROLE cashpoint_owner;

DROP FUNCTION IF EXISTS bank.card_session(bytea, text);
DROP FUNCTION IF EXISTS bank.card_session_refused(bytea, text, bigint);
DROP FUNCTION IF EXISTS bank.card_by_digest(bytea);
DROP FUNCTION IF EXISTS bank.record_pin_attempt(bigint, boolean, text, text, text);
DROP FUNCTION IF EXISTS bank.change_pin(bigint, bigint, text, text, text, text);
DROP FUNCTION IF EXISTS bank.post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text,
    text, bytea, text);
DROP FUNCTION IF EXISTS bank.session_post(text, bigint, bigint, text, text, text, text, text, text, bytea, text,
    bigint, text, text, bytea, text);
DROP FUNCTION IF EXISTS bank.balance(text, bigint, bigint, text, text, text, text, bytea, text);
DROP FUNCTION IF EXISTS bank.session_balance(bytea, text, text, bigint, bigint, text, text, text, text);
DROP FUNCTION IF EXISTS bank.session_statement(bytea, text, text, bigint, bigint, text, integer, text, text, text);
