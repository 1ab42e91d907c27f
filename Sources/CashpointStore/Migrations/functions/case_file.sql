-- Everything about one case, as JSON (NULL for an unknown case): the case, its subject (the customer:
-- name, user name, accounts, cards by masked PAN, the identity know your customer holds with its KYC
-- status, risk rating and sanctions screening result; or the terminal), its alerts (rule, score, detail,
-- window), the transactions behind them (time, kind, amount, response, terminal, account, card) and its
-- events. The desk shows it (p_purpose 'show', role compliance) and `atm-switch report sar`
-- drafts a suspicious activity report from it ('sar', also the 'system' role of the command line).
-- Audited either way: it shows a customer's movements.
SET LOCAL ROLE cashpoint_owner;

CREATE OR REPLACE FUNCTION bank.case_file(
    p_role text, p_actor text, p_ip text, p_device text, p_case_id bigint, p_purpose text
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, bank AS $$
DECLARE
    v_case bank.cases%ROWTYPE;
    v_file jsonb;
BEGIN
    PERFORM bank.set_context(p_role, NULL);
    IF p_purpose = 'sar' THEN
        PERFORM bank.require_role(ARRAY['compliance', 'system']);
    ELSE
        PERFORM bank.require_role(ARRAY['compliance']);
    END IF;
    SELECT * INTO v_case FROM bank.cases c WHERE c.id = p_case_id;
    IF v_case.id IS NULL THEN
        RETURN NULL;
    END IF;
    -- Accounts and cards are read under forced row-level security: the system context sees them.
    PERFORM set_config('cashpoint.role', 'system', true);
    WITH txn_ids AS (
        SELECT DISTINCT x AS id FROM bank.alerts a, unnest(a.transaction_ids) x WHERE a.case_id = v_case.id
    )
    SELECT jsonb_build_object(
        'case', jsonb_build_object('id', v_case.id, 'subject', v_case.subject, 'severity', v_case.severity,
            'status', v_case.status, 'opened_by', v_case.opened_by, 'opened_at', v_case.opened_at,
            'assignee', v_case.assignee, 'assigned_by', v_case.assigned_by, 'closed_by', v_case.closed_by,
            'closed_at', v_case.closed_at, 'disposition', v_case.disposition),
        'customer', (SELECT jsonb_build_object('id', u.id, 'user_name', u.user_name, 'full_name', u.full_name,
                'since', u.created_at,
                'accounts', coalesce((SELECT jsonb_agg(jsonb_build_object('account_no', a.account_no, 'name', a.name,
                    'opened', a.created_at, 'balance', a.balance) ORDER BY a.account_no)
                    FROM bank.accounts a WHERE a.user_id = u.id AND a.kind = 'customer'), '[]'),
                'cards', coalesce((SELECT jsonb_agg(c.pan_masked ORDER BY c.id) FROM bank.cards c WHERE c.user_id = u.id), '[]'),
                -- What know your customer holds (0023): never the document number, which the bank cannot read.
                'identity', (SELECT jsonb_build_object('legal_name', i.legal_name, 'date_of_birth', i.date_of_birth,
                        'nationality', i.nationality, 'address', i.address, 'document_type', i.document_type,
                        'document_country', i.document_country, 'document_last4', i.document_last4,
                        'politically_exposed', i.politically_exposed, 'kyc_status', bank.kyc_status(i.user_id),
                        'risk_rating', i.risk_rating, 'risk_reasons', to_jsonb(i.risk_reasons),
                        'screening', i.screening, 'screening_detail', i.screening_detail, 'screened_at', i.screened_at)
                    FROM bank.customer_identities i WHERE i.user_id = u.id))
            FROM bank.users u WHERE u.id = v_case.customer_id),
        'terminal', (SELECT jsonb_build_object('id', t.id, 'location', t.location)
            FROM bank.terminals t WHERE 'terminal:' || t.id = v_case.subject),
        'alerts', coalesce((SELECT jsonb_agg(jsonb_build_object('id', a.id, 'rule', a.rule_id, 'rule_version', a.rule_version,
                'kind', a.kind, 'severity', a.severity, 'score', a.score, 'amount', a.amount, 'detail', a.detail,
                'window_start', a.window_start, 'window_end', a.window_end, 'raised_at', a.raised_at,
                'transactions', to_jsonb(a.transaction_ids)) ORDER BY a.id)
            FROM bank.alerts a WHERE a.case_id = v_case.id), '[]'),
        'transactions', coalesce((SELECT jsonb_agg(jsonb_build_object('id', t.id, 'at', t.created_at, 'kind', t.kind,
                'amount', t.amount, 'response_code', t.response_code, 'terminal', t.terminal_id,
                'account', a.account_no, 'card', c.pan_masked,
                'reversed', EXISTS (SELECT 1 FROM bank.transactions r WHERE r.original_id = t.id AND r.kind = 'reversal'))
                ORDER BY t.created_at, t.id)
            FROM txn_ids i JOIN bank.transactions t ON t.id = i.id
            LEFT JOIN bank.accounts a ON a.id = t.account_id LEFT JOIN bank.cards c ON c.id = t.card_id), '[]'),
        'events', coalesce((SELECT jsonb_agg(jsonb_build_object('at', e.at, 'actor', e.actor, 'event', e.event,
                'status', e.status_after, 'detail', e.detail) ORDER BY e.id)
            FROM bank.case_events e WHERE e.case_id = v_case.id), '[]'),
        'currency', (SELECT s.currency FROM bank.settings s)
    ) INTO v_file;
    PERFORM set_config('cashpoint.role', p_role, true);
    PERFORM bank.audit(p_actor, CASE WHEN p_purpose = 'sar' THEN 'report.sar' ELSE 'case.viewed' END, '00',
        jsonb_build_object('case', v_case.id), p_ip, p_device);
    RETURN v_file;
END
$$;

REVOKE ALL ON FUNCTION bank.case_file(text, text, text, text, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bank.case_file(text, text, text, text, bigint, text) TO cashpoint_switch;
