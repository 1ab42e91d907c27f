-- 0004: what the switch's role may do. It owns nothing; it cannot UPDATE, DELETE or TRUNCATE any
-- table; it changes balances only through bank.post, bank.reverse and bank.post_opening.
REVOKE ALL ON ALL TABLES IN SCHEMA bank FROM PUBLIC, cashpoint_switch;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA bank FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    bank.set_context(text, bigint),
    bank.context_role(),
    bank.context_user(),
    bank.audit(text, text, text, jsonb, text, text),
    bank.configure(text, text, int, int),
    bank.post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text),
    bank.reverse(text, text, text, text, text, text, bytea, text, text, bigint),
    bank.card_by_digest(bytea),
    bank.card_accounts_of(bigint),
    bank.record_pin_attempt(bigint, boolean, text, text, text),
    bank.record_card_refusal(bigint, text, text, text, text, text),
    bank.change_pin(bigint, bigint, text, text, text, text),
    bank.balance(text, bigint, bigint, text, text, text, text),
    bank.mini_statement(text, bigint, bigint, text, int, text, text, text),
    bank.staff_by_name(text),
    bank.record_login(bigint, boolean, text, text, text),
    bank.create_customer(text, text, text, text, text, text),
    bank.create_staff(text, text, text, text, text, text, text, text),
    bank.open_account(text, text, text, text, bigint, text, text, bigint, int),
    bank.open_internal_account(text, text, text, text),
    bank.register_terminal(text, text, text, text, text),
    bank.issue_card(text, text, text, text, bigint, bytea, text, text, date, text[]),
    bank.post_opening(text, text, bigint, text),
    bank.set_account_locked(text, text, text, text, text, boolean),
    bank.set_card_status(text, text, text, text, bytea, text),
    bank.unlock_user(text, text, text, text, text),
    bank.change_role(text, text, text, text, text, text),
    bank.list_users(text, text, text, text),
    bank.read_audit(text, text, text, text, text, text, timestamptz, timestamptz, bigint, int)
TO cashpoint_switch;

-- Reading for verification (ledger verify and audit verify) and the audit sealer. Row-level security
-- still applies to accounts and history: verification runs in the 'system' context.
GRANT SELECT ON bank.settings, bank.accounts, bank.history, bank.transactions, bank.terminals,
    bank.audit_logs, bank.audit_seals TO cashpoint_switch;
GRANT INSERT ON bank.audit_seals TO cashpoint_switch;
