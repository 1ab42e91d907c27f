-- A PIN change: the new hash stored and the try counter reset, in the customer's context, audited
-- (pin.change). The card is checked first, in the same call, as a card session's other requests are
-- (bank.post): by the PAN digest the request presented, and the session by its id (NULL when the
-- request's own PIN block opened it). When the card may not be used now, nothing changes and the one
-- row has response_code NULL and the card's state, from which CashpointBank.CardRules answers.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.change_pin(
    p_card_id bigint, p_user_id bigint, p_new_hash text, p_actor text, p_ip text, p_device text,
    p_pan_digest bytea, p_jti text
) RETURNS TABLE (response_code text, card_id bigint, card_status text, card_expired boolean, user_locked boolean,
    session_ended boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_state record;
    v_count int;
BEGIN
    -- The system context reads the card (the cards' row-level security); its row is locked first, so
    -- the check and the change see the same card.
    PERFORM bank.set_context('system', NULL);
    PERFORM 1 FROM bank.cards c WHERE c.id = p_card_id FOR UPDATE;
    SELECT * INTO v_state FROM bank.card_session_refused(p_pan_digest, p_jti, p_card_id);
    IF FOUND THEN
        RETURN QUERY SELECT NULL::text, v_state.card_id, v_state.status, v_state.expired, v_state.user_locked,
            v_state.ended;
        RETURN;
    END IF;
    PERFORM bank.set_context('customer', p_user_id);
    UPDATE bank.cards c SET pin_hash = p_new_hash, pin_tries = 0 WHERE c.id = p_card_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count <> 1 THEN
        RAISE EXCEPTION 'card % is not customer %''s', p_card_id, p_user_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM bank.audit(p_actor, 'pin.change', '00', jsonb_build_object('card', p_card_id), p_ip, p_device);
    RETURN QUERY SELECT '00'::text, p_card_id, 'active'::text, false, false, false;
END
$$;

REVOKE ALL ON FUNCTION bank.change_pin(bigint, bigint, text, text, text, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.change_pin(bigint, bigint, text, text, text, text, bytea, text) TO cashpoint_switch;
