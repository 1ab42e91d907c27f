-- 0016 (issue 13): administrative operations that make several rows are one SQL function each, so one
-- transaction: a failure at any step leaves nothing behind. The user list is paged in SQL.
--
-- The new functions are function files (repeatable migrations): functions/create_customer_with_account_and_card.sql
-- (CREATE: customer, account and card), functions/list_users_page.sql (USERS, one page) and
-- functions/add_terminal.sql (`atm-switch terminal add`: cash account, terminal, sealed master key).
-- This migration drops bank.list_users, which returned every user: bank.list_users_page replaced it.
SET LOCAL ROLE cashpoint_owner;

DROP FUNCTION bank.list_users(text, text, text, text);
