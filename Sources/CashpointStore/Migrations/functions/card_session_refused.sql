-- The card's state when the card session may not go on: the card is gone or is not the session's, it
-- is not active, its customer is locked, or the session has ended. No row when it may go on.
--
-- Called only from bank.session_post, bank.session_balance and bank.session_statement, inside their
-- SECURITY DEFINER call (as cashpoint_owner, search_path pg_catalog, bank), after they have set the
-- system context (the cards' row-level security lets it read any card). It is one SQL query, STABLE,
-- neither STRICT nor SECURITY DEFINER and without a SET clause, so the planner inlines it into the
-- caller's statement: no nested function call on the switch's hottest path (each had cost a PL/pgSQL
-- call with two statements of its own).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.card_session_refused(p_pan_digest bytea, p_jti text, p_card_id bigint)
RETURNS TABLE(card_id bigint, status text, user_locked boolean, ended boolean)
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT c.id, c.status, u.locked, s.ended
    FROM (SELECT EXISTS (SELECT 1 FROM bank.ended_sessions e WHERE e.jti = p_jti) AS ended) s
    LEFT JOIN (bank.cards c JOIN bank.users u ON u.id = c.user_id) ON c.pan_digest = p_pan_digest
    WHERE c.id IS DISTINCT FROM p_card_id OR c.status <> 'active' OR u.locked OR s.ended
$$;

REVOKE ALL ON FUNCTION bank.card_session_refused(bytea, text, bigint) FROM PUBLIC;
