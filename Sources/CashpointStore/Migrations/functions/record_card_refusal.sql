-- A blocked card is refused without a PIN check; the refusal is audited.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.record_card_refusal(
    p_card_id bigint, p_code text, p_reason text, p_actor text, p_ip text, p_device text
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
BEGIN
    PERFORM bank.audit(p_actor, 'card.refused', p_code,
        jsonb_build_object('card', p_card_id, 'reason', p_reason), p_ip, p_device);
END
$$;

REVOKE ALL ON FUNCTION bank.record_card_refusal(bigint, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.record_card_refusal(bigint, text, text, text, text, text) TO cashpoint_switch;
