-- 0018 (issue 19): a function's file (functions/NAME.sql) is its one current definition and drops
-- nothing; a change of a function's arguments or return type drops the old function in a versioned
-- migration, which runs before the files. Until now functions/post.sql and functions/balance.sql each
-- dropped their own function's signature from before 2026-12-01 (when both took the card session's PAN
-- digest and id and returned the card's state); those drops are here now, and the migrator refuses a
-- function file that drops.
--
-- On a database whose files had already run, both functions are gone under these signatures and
-- nothing happens; on a fresh one, the versions 0002-0013 made are dropped and the files create the
-- current ones.
SET LOCAL ROLE cashpoint_owner;

DROP FUNCTION IF EXISTS bank.post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text,
    text);
DROP FUNCTION IF EXISTS bank.balance(text, bigint, bigint, text, text, text, text);
