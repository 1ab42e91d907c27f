-- 0031 (issue 23): bank.session_post goes. The switch CALLs bank.post_committed for every money movement,
-- a card session's too (bank.post's last two parameters, the PAN digest and the session's id, are given
-- then): nothing calls the session form's own name any more.
--
-- The same change confirms every other write the switch answers in the same round trip, as a money
-- movement's is: each is CALLed through a procedure that commits before it sends its row
-- (functions/*_committed.sql, created by their files after this migration). Those files make them; this
-- migration only drops.
SET LOCAL ROLE cashpoint_owner;

DROP FUNCTION IF EXISTS bank.session_post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint,
    text, text, bytea, text);
