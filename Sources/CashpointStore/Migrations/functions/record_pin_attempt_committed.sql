-- bank.record_pin_attempt whose answer (the try counter and the card's status after the check) is sent
-- only once it has committed: why and how as bank.post_committed. What the switch answers from its row
-- (55, 75, or the request's own answer after a right PIN) is a count that committed.
--
-- A PIN check has no idempotency key and is not idempotent: made twice, a wrong PIN counts twice. So the
-- switch never makes it again by itself (the store asks again after a lost connection only for a keyed
-- money movement): when the connection is lost before the row, the request is answered 91 (96 past its
-- deadline), and the check may or may not have been counted (docs/security.md, "PIN tries and lockout").
-- requires: record_pin_attempt
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE PROCEDURE bank.record_pin_attempt_committed(
    p_card_id bigint, p_ok boolean, p_actor text, p_ip text, p_device text, INOUT pin_tries int DEFAULT NULL,
    INOUT status text DEFAULT NULL)
LANGUAGE plpgsql
AS $$
BEGIN
    SELECT r.pin_tries, r.status
    INTO pin_tries, status
    FROM bank.record_pin_attempt(p_card_id, p_ok, p_actor, p_ip, p_device) r;
    COMMIT;
END
$$;

REVOKE ALL ON PROCEDURE bank.record_pin_attempt_committed(bigint, boolean, text, text, text, int, text) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE bank.record_pin_attempt_committed(bigint, boolean, text, text, text, int, text) TO cashpoint_switch;
