-- Card status by staff: 'active' (unblock, try counter reset: high-risk, only as an approved change),
-- 'blocked', 'captured', 'closed'.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.set_card_status(
    p_role text, p_actor text, p_ip text, p_device text, p_pan_digest bytea, p_status text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin']);
    IF p_status = 'active' THEN
        PERFORM bank.require_approved_change('card.unlock', encode(p_pan_digest, 'hex'));
    END IF;
    UPDATE bank.cards c SET status = p_status, pin_tries = CASE WHEN p_status = 'active' THEN 0 ELSE c.pin_tries END
    WHERE c.pan_digest = p_pan_digest;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM bank.audit(p_actor, CASE WHEN p_status = 'active' THEN 'card.unlock' ELSE 'card.' || p_status END,
        CASE WHEN v_count = 1 THEN '00' ELSE '14' END, jsonb_build_object('status', p_status), p_ip, p_device);
    RETURN v_count = 1;
END
$$;

REVOKE ALL ON FUNCTION bank.set_card_status(text, text, text, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.set_card_status(text, text, text, text, bytea, text) TO cashpoint_switch;
