-- 0032 (issue 23): a batch of card-session postings (bank.post_batch) runs in a context of its own,
-- 'customers': the customers whose cards post in the batch, listed in cashpoint.user_ids (their ids,
-- comma-separated). Row-level security binds the batch as it binds one posting: it sees the bank's
-- own accounts and those customers' accounts and cards, no other customer's. Within the batch each
-- posting sees only its own customer's accounts (bank.post_batch joins on the posting's user, as the
-- 'customer' context's policy would). The policies of 0010, with the new context added.
SET LOCAL ROLE cashpoint_owner;

ALTER POLICY accounts_by_context ON bank.accounts
    USING (
        current_setting('cashpoint.role', true) IN ('teller', 'admin', 'system')
        OR (current_setting('cashpoint.role', true) = 'customer'
            AND (kind <> 'customer' OR user_id = nullif(current_setting('cashpoint.user_id', true), '')::bigint))
        OR (current_setting('cashpoint.role', true) = 'customers'
            AND (kind <> 'customer'
                 OR user_id = ANY (string_to_array(current_setting('cashpoint.user_ids', true), ',')::bigint[])))
    );
ALTER POLICY cards_by_context ON bank.cards
    USING (
        current_setting('cashpoint.role', true) IN ('teller', 'admin', 'system')
        OR (current_setting('cashpoint.role', true) = 'customer'
            AND user_id = nullif(current_setting('cashpoint.user_id', true), '')::bigint)
        OR (current_setting('cashpoint.role', true) = 'customers'
            AND user_id = ANY (string_to_array(current_setting('cashpoint.user_ids', true), ',')::bigint[]))
    );
