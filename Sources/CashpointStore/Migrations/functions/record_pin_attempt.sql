-- Records a PIN check's result: a right PIN resets the try counter, a wrong one raises it and the
-- last allowed wrong one blocks the card. Answers 00, 55 (wrong) or 75 (blocked: capture the card).
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.record_pin_attempt(
    p_card_id bigint, p_ok boolean, p_actor text, p_ip text, p_device text
) RETURNS TABLE (response_code text, pin_tries int, status text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_card record;
    v_max int;
    v_code text;
BEGIN
    PERFORM bank.set_context('system', NULL);
    SELECT s.max_pin_tries INTO v_max FROM bank.settings s;
    SELECT c.id, c.pin_tries, c.status INTO v_card FROM bank.cards c WHERE c.id = p_card_id FOR UPDATE;
    IF v_card.id IS NULL THEN
        RAISE EXCEPTION 'no card %', p_card_id USING ERRCODE = 'no_data_found';
    END IF;
    IF v_card.status <> 'active' THEN
        v_code := '75';
    ELSIF p_ok THEN
        v_code := '00';
        IF v_card.pin_tries > 0 THEN
            UPDATE bank.cards c SET pin_tries = 0 WHERE c.id = p_card_id;
            v_card.pin_tries := 0;
        END IF;
    ELSE
        v_card.pin_tries := v_card.pin_tries + 1;
        IF v_card.pin_tries >= v_max THEN
            v_card.status := 'blocked';
            v_code := '75';
        ELSE
            v_code := '55';
        END IF;
        UPDATE bank.cards c SET pin_tries = v_card.pin_tries, status = v_card.status WHERE c.id = p_card_id;
    END IF;
    PERFORM bank.audit(p_actor,
        CASE WHEN p_ok THEN 'pin.right' ELSE 'pin.wrong' END, v_code,
        jsonb_build_object('card', p_card_id, 'tries', v_card.pin_tries), p_ip, p_device);
    IF NOT p_ok AND v_code = '75' AND v_card.pin_tries = v_max THEN
        PERFORM bank.audit(p_actor, 'card.blocked', '75',
            jsonb_build_object('card', p_card_id, 'reason', 'PIN tries exceeded'), p_ip, p_device);
    END IF;
    RETURN QUERY SELECT v_code, v_card.pin_tries, v_card.status;
END
$$;

REVOKE ALL ON FUNCTION bank.record_pin_attempt(bigint, boolean, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.record_pin_attempt(bigint, boolean, text, text, text) TO cashpoint_switch;
