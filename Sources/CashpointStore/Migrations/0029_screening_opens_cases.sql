-- 0029 (issue 21): screening at onboarding and re-screening. A sanctions hit opens a case for the
-- customer (opener 'screening', severity high) in the transaction that records it: bank.record_identity
-- at CREATE and bank.record_screening at a re-screening call bank.open_screening_case (owner only).
-- The hit threshold is a setting (bank.settings.screening_threshold, default 0.88). A re-screening
-- of the current list versions keeps its cursor (the last customer id done) with each version, so a
-- stopped run resumes where it stopped (bank.rescreen_begin / _advance / _finish).
SET LOCAL ROLE cashpoint_owner;

ALTER TABLE bank.settings
    ADD COLUMN screening_threshold numeric(3, 2) NOT NULL DEFAULT 0.88
        CHECK (screening_threshold BETWEEN 0.50 AND 1.00);

ALTER TABLE bank.sanction_lists
    ADD COLUMN rescreen_cursor bigint,
    ADD COLUMN rescreen_started_at timestamptz;
