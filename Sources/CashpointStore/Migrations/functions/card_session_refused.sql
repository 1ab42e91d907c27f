-- The facts about a card session that may not go on: the card its PAN names now (gone, or not the
-- session's card), its status, whether it is past its expiry (the database's date), whether its
-- customer is locked, whether the session has ended. No row when every fact is as a usable card's: the
-- card is the session's, active, not expired, its customer not locked, the session not ended. Which
-- answer a refused session gets is CashpointBank.CardRules' choice, made from these facts alone
-- (CardStateMatrixTests checks that the rules refuse exactly the states this function returns).
--
-- Called only from bank.post, bank.balance, bank.session_statement and bank.change_pin, inside their
-- SECURITY DEFINER call (as cashpoint_owner, search_path pg_catalog, bank), after they have set the
-- system context (the cards' row-level security lets it read any card). It is one SQL query, STABLE,
-- neither STRICT nor SECURITY DEFINER and without a SET clause, so the planner inlines it into the
-- caller's statement: no nested function call on the switch's hottest path (each had cost a PL/pgSQL
-- call with two statements of its own).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.card_session_refused(p_pan_digest bytea, p_jti text, p_card_id bigint)
RETURNS TABLE(card_id bigint, status text, expired boolean, user_locked boolean, ended boolean)
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    SELECT c.id, c.status, c.expiry < current_date, u.locked, s.ended
    FROM (SELECT EXISTS (SELECT 1 FROM bank.ended_sessions e WHERE e.jti = p_jti) AS ended) s
    LEFT JOIN (bank.cards c JOIN bank.users u ON u.id = c.user_id) ON c.pan_digest = p_pan_digest
    WHERE c.id IS DISTINCT FROM p_card_id OR c.status <> 'active' OR c.expiry < current_date OR u.locked OR s.ended
$$;

REVOKE ALL ON FUNCTION bank.card_session_refused(bytea, text, bigint) FROM PUBLIC;
