SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.issue_card(
    p_role text, p_actor text, p_ip text, p_device text, p_user_id bigint, p_pan_digest bytea,
    p_pan_masked text, p_pin_hash text, p_expiry date, p_account_nos text[]
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_id bigint;
    v_linked int;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    PERFORM bank.require_role(ARRAY['teller', 'admin', 'system']);
    INSERT INTO bank.cards (pan_digest, pan_masked, user_id, pin_hash, expiry)
    VALUES (p_pan_digest, p_pan_masked, p_user_id, p_pin_hash, p_expiry)
    RETURNING id INTO v_id;
    INSERT INTO bank.card_accounts (card_id, account_id, is_default)
    SELECT v_id, a.id, a.account_no = p_account_nos[1]
    FROM bank.accounts a
    WHERE a.account_no = ANY (p_account_nos) AND a.user_id = p_user_id;
    GET DIAGNOSTICS v_linked = ROW_COUNT;
    IF v_linked <> cardinality(p_account_nos) THEN
        RAISE EXCEPTION 'a card links only accounts of its own customer' USING ERRCODE = 'foreign_key_violation';
    END IF;
    PERFORM bank.audit(p_actor, 'card.issue', '00',
        jsonb_build_object('card', v_id, 'pan', p_pan_masked, 'user', p_user_id), p_ip, p_device);
    RETURN v_id;
END
$$;

REVOKE ALL ON FUNCTION bank.issue_card(text, text, text, text, bigint, bytea, text, text, date, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.issue_card(text, text, text, text, bigint, bytea, text, text, date, text[]) TO cashpoint_switch;
