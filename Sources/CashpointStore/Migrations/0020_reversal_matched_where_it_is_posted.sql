-- 0020 (issue 19): a reversal advice is matched against its original inside bank.reverse, in the
-- transaction that reverses it, by one recipe (bank.reversal_original): the same transaction type
-- (field 3), the amount the original asked for (field 4) and, for an approved original, the same card
-- (field 2). Until now the switch read the original first (bank.reversal_original, a round trip of its
-- own, which an original still being posted escaped) and compared the card by recomputing the
-- original's request digest in Swift, a second copy of the posting's digest recipe.
--
-- The card is now a fact of the posting: bank.transactions.card_id, the card a card request was made
-- with (none for staff postings), written by bank.post. Not a foreign key: the posting path pays for no
-- extra check, and a card is never deleted. The rows posted before this migration get theirs here, from
-- their request digest: the one card linked to the posting's account whose PAN digest gives the same
-- digest by the recipe of CashpointBank.Bank.move (SHA-256 over the kind, the amount, the PAN digest in
-- hex and the accounts, each length-prefixed), so a reversal of one of them is matched as before. This
-- copy of the recipe runs once, here, and nowhere else.
--
-- bank.reverse takes the advice's type, amount and card and bank.reversal_original does the match, so
-- both change their arguments: the old ones are dropped here and their files create the new ones
-- (bank.reversal_original no longer for the switch to call).
SET LOCAL ROLE cashpoint_owner;

ALTER TABLE bank.transactions ADD COLUMN card_id bigint;
COMMENT ON COLUMN bank.transactions.card_id IS
    'The card a card request was made with (bank.cards.id); NULL for staff postings and reversals.';

-- Cards, accounts and the ledger are read under forced row-level security: the system context sees them.
SELECT set_config('cashpoint.role', 'system', true), set_config('cashpoint.user_id', '', true);
ALTER TABLE bank.transactions DISABLE TRIGGER transactions_append_only;
UPDATE bank.transactions t SET card_id = m.card_id
FROM (
    SELECT o.id, c.id AS card_id
    FROM bank.transactions o
    JOIN bank.accounts a ON a.id = o.account_id
    JOIN bank.card_accounts ca ON ca.account_id = o.account_id
    JOIN bank.cards c ON c.id = ca.card_id
    CROSS JOIN LATERAL (SELECT encode(c.pan_digest, 'hex') AS pan) p
    LEFT JOIN LATERAL (
        SELECT b.account_no::text AS account_no
        FROM bank.history h JOIN bank.accounts b ON b.id = h.account_id
        WHERE o.kind = 'transfer' AND h.transaction_id = o.id AND h.amount > 0
    ) destination ON true
    WHERE o.kind IN ('withdrawal', 'deposit', 'transfer') AND o.response_code = '00'
      AND o.request_digest = sha256(
            int4send(octet_length(o.kind::text)) || convert_to(o.kind::text, 'UTF8')
            || int4send(octet_length(o.amount::text)) || convert_to(o.amount::text, 'UTF8')
            || int4send(octet_length(p.pan)) || convert_to(p.pan, 'UTF8')
            || int4send(octet_length(a.account_no::text)) || convert_to(a.account_no::text, 'UTF8')
            || coalesce(int4send(octet_length(destination.account_no)) || convert_to(destination.account_no, 'UTF8'),
                '\x'::bytea))
) m
WHERE m.id = t.id;
ALTER TABLE bank.transactions ENABLE TRIGGER transactions_append_only;
SELECT set_config('cashpoint.role', '', true), set_config('cashpoint.user_id', '', true);

DROP FUNCTION IF EXISTS bank.reverse(text, text, text, text, text, text, bytea, text, text, bigint);
DROP FUNCTION IF EXISTS bank.reversal_original(text, text, text);
