SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.change_pin(
    p_card_id bigint, p_user_id bigint, p_new_hash text, p_actor text, p_ip text, p_device text
) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context('customer', p_user_id);
    UPDATE bank.cards c SET pin_hash = p_new_hash, pin_tries = 0
    WHERE c.id = p_card_id AND c.status = 'active';
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, 'pin.change', CASE WHEN v_count = 1 THEN '00' ELSE '62' END,
        jsonb_build_object('card', p_card_id), p_ip, p_device);
    RETURN CASE WHEN v_count = 1 THEN '00' ELSE '62' END;
END
$$;

REVOKE ALL ON FUNCTION bank.change_pin(bigint, bigint, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.change_pin(bigint, bigint, text, text, text, text) TO cashpoint_switch;
