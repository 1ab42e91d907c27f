-- 0023 (issue 21, section 1): know your customer.
--
-- A new staff role, `compliance`: signs on as tellers and administrators do (password and second
-- factor), sees customers' KYC records and decides them; it moves no money and creates nobody.
--
-- bank.customer_identities: one row per customer whose identity the bank recorded: legal name, date of
-- birth, nationality (ISO 3166-1 alpha-2), address, an identity document (type, issuing country, the
-- number as a keyed digest made by the switch under its pepper, as PANs are, and its last 4), the
-- politically exposed person flag, the sanctions screening result, the KYC status and the risk rating
-- with its reasons (computed by the switch's rules, CashpointBank.KYCRisk, stored as given). Stored
-- statuses are pending, verified and rejected; `expired` is computed (bank.kyc_status): verified and
-- the review date passed.
-- bank.country_risk: the country risk list the rules read (data; a bank replaces it).
-- bank.settings.unverified_may: what a customer who is not verified may still do (default: deposits);
-- bank.settings.serve_unrecorded: whether a customer with no identity recorded (one made before this
-- migration) is served as before (default true, so an existing bank keeps working while it records
-- its customers; set false once every customer has a record).
-- kyc.verify joins the four-eyes table: verifying a high-risk customer needs a second compliance user.
SET LOCAL ROLE cashpoint_owner;

ALTER TABLE bank.users DROP CONSTRAINT users_role_check,
    ADD CONSTRAINT users_role_check CHECK (role IN ('customer', 'teller', 'admin', 'compliance'));

ALTER TABLE bank.high_risk_operations DROP CONSTRAINT high_risk_operations_checker_roles_check,
    ADD CONSTRAINT high_risk_operations_checker_roles_check
        CHECK (checker_roles <@ ARRAY['teller', 'admin', 'compliance']);
INSERT INTO bank.high_risk_operations (operation, description, above_amount, checker_roles) VALUES
    ('kyc.verify', 'verify a high-risk customer (know your customer)', NULL, ARRAY['compliance']);

CREATE TABLE bank.country_risk (
    country char(2) PRIMARY KEY CHECK (country ~ '^[A-Z]{2}$'),
    risk text NOT NULL CHECK (risk IN ('medium', 'high')),
    source text NOT NULL CHECK (length(source) BETWEEN 1 AND 80)
);
COMMENT ON TABLE bank.country_risk IS
    'Countries whose nationals or documents raise a customer''s risk; a country not listed is low.';
-- FATF's public statement of June 2025: "call for action" (high) and a few of the jurisdictions
-- under "increased monitoring" (medium). A bank loads the current lists.
INSERT INTO bank.country_risk (country, risk, source) VALUES
    ('KP', 'high', 'FATF call for action'),
    ('IR', 'high', 'FATF call for action'),
    ('MM', 'high', 'FATF call for action'),
    ('SY', 'medium', 'FATF increased monitoring'),
    ('YE', 'medium', 'FATF increased monitoring'),
    ('HT', 'medium', 'FATF increased monitoring'),
    ('SS', 'medium', 'FATF increased monitoring'),
    ('VE', 'medium', 'FATF increased monitoring');

CREATE TABLE bank.customer_identities (
    user_id bigint PRIMARY KEY REFERENCES bank.users (id),
    legal_name text NOT NULL CHECK (length(legal_name) BETWEEN 1 AND 80),
    date_of_birth date NOT NULL CHECK (date_of_birth > date '1900-01-01'),
    nationality char(2) NOT NULL CHECK (nationality ~ '^[A-Z]{2}$'),
    address text NOT NULL CHECK (length(address) BETWEEN 1 AND 160),
    document_type text NOT NULL CHECK (document_type IN ('passport', 'id_card', 'driving_licence')),
    document_country char(2) NOT NULL CHECK (document_country ~ '^[A-Z]{2}$'),
    document_digest bytea NOT NULL CHECK (length(document_digest) = 32),
    document_last4 text NOT NULL CHECK (document_last4 ~ '^[A-Z0-9]{1,4}$'),
    politically_exposed boolean NOT NULL DEFAULT false,
    screening text NOT NULL DEFAULT 'not_screened' CHECK (screening IN ('not_screened', 'clear', 'hit')),
    screening_detail text CHECK (length(screening_detail) <= 200),
    screened_at timestamptz,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'rejected')),
    review_due date,
    risk_rating text NOT NULL CHECK (risk_rating IN ('low', 'medium', 'high')),
    risk_reasons text[] NOT NULL CHECK (cardinality(risk_reasons) BETWEEN 1 AND 12),
    decided_by text,
    decided_at timestamptz,
    decision_reason text CHECK (length(decision_reason) <= 200),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'verified' OR (review_due IS NOT NULL AND decided_by IS NOT NULL))
);
COMMENT ON COLUMN bank.customer_identities.document_digest IS
    'HMAC-SHA-256 of the document number under the switch''s pepper (CredentialHasher.documentDigest).';
CREATE INDEX customer_identities_document ON bank.customer_identities (document_digest);

ALTER TABLE bank.settings
    ADD COLUMN unverified_may text[] NOT NULL DEFAULT ARRAY['deposit']
        CHECK (unverified_may <@ ARRAY['withdrawal', 'deposit', 'transfer']),
    ADD COLUMN serve_unrecorded boolean NOT NULL DEFAULT true;

REVOKE ALL ON bank.customer_identities, bank.country_risk FROM PUBLIC, cashpoint_switch;

-- CREATE now records the identity in the same transaction: the function gains its parameters.
DROP FUNCTION IF EXISTS bank.create_customer_with_account_and_card(text, text, text, text, text, text, text, text,
    bigint, int, bytea, text, text, date);
