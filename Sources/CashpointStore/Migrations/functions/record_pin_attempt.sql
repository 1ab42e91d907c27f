-- Records a PIN check's result on an active card and returns the facts after it: the try counter and
-- the card's status. A right PIN resets the counter; a wrong one raises it, and the last allowed wrong
-- one (bank.settings.max_pin_tries) blocks the card. A card that is no longer active (blocked by a
-- teller since the caller read it, say) is left as it is: the check is not counted. The answer (00, 55,
-- or the card rules' refusal of the status the card now has) is CashpointBank's, never this function's.
-- Audited in the same transaction: pin.right or pin.wrong with the PIN's verdict (00, 55) and the try
-- count, and card.blocked when this check blocks the card.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.record_pin_attempt(
    p_card_id bigint, p_ok boolean, p_actor text, p_ip text, p_device text
) RETURNS TABLE (pin_tries int, status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_card record;
    v_max int;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT s.max_pin_tries INTO v_max FROM bank.settings s;
    SELECT c.id, c.pin_tries, c.status INTO v_card FROM bank.cards c WHERE c.id = p_card_id FOR UPDATE;
    IF v_card.id IS NULL THEN
        RAISE EXCEPTION 'no card %', p_card_id USING ERRCODE = 'no_data_found';
    END IF;
    IF v_card.status = 'active' THEN
        IF p_ok THEN
            IF v_card.pin_tries > 0 THEN
                UPDATE bank.cards c SET pin_tries = 0 WHERE c.id = p_card_id;
                v_card.pin_tries := 0;
            END IF;
        ELSE
            v_card.pin_tries := v_card.pin_tries + 1;
            IF v_card.pin_tries >= v_max THEN
                v_card.status := 'blocked';
            END IF;
            UPDATE bank.cards c SET pin_tries = v_card.pin_tries, status = v_card.status WHERE c.id = p_card_id;
        END IF;
        PERFORM bank.audit(p_actor, CASE WHEN p_ok THEN 'pin.right' ELSE 'pin.wrong' END,
            CASE WHEN p_ok THEN '00' ELSE '55' END,
            jsonb_build_object('card', p_card_id, 'tries', v_card.pin_tries), p_ip, p_device);
        IF v_card.status = 'blocked' THEN
            PERFORM bank.audit(p_actor, 'card.blocked', '00',
                jsonb_build_object('card', p_card_id, 'reason', 'PIN tries exceeded'), p_ip, p_device);
        END IF;
    END IF;
    RETURN QUERY SELECT v_card.pin_tries, v_card.status;
END
$$;

REVOKE ALL ON FUNCTION bank.record_pin_attempt(bigint, boolean, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.record_pin_attempt(bigint, boolean, text, text, text) TO cashpoint_switch;
