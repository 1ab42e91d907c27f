-- 0026 (issue 21): sanctions lists, loaded as versions. A version is one published list (OFAC's SDN
-- files, or the EU consolidated file) with the SHA-256 of each file, who loaded it and when, and its
-- entry counts; its entries are rows of bank.sanction_entries. Per source one version is current; a
-- new one becomes current in the same transaction that loads all of its entries
-- (bank.load_sanction_list), the one before it superseded, kept. A version not yet re-screened has
-- rescreened_at NULL: the re-screening of customers picks it up from there (and is notified on the
-- channel cashpoint_sanctions with the version number).
SET LOCAL ROLE cashpoint_owner;

CREATE TABLE bank.sanction_lists (
    version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source text NOT NULL CHECK (source IN ('ofac', 'eu')),
    -- [{"name": "sdn.csv", "sha256": "hex", "bytes": n}, ...]
    files jsonb NOT NULL CHECK (jsonb_typeof(files) = 'array' AND jsonb_array_length(files) > 0),
    entry_count integer NOT NULL CHECK (entry_count > 0),
    -- {"individual": n, "entity": n, "vessel": n, "aircraft": n, "aliases": n}
    counts jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('current', 'superseded')),
    loaded_at timestamptz NOT NULL DEFAULT now(),
    loaded_by text NOT NULL CHECK (length(loaded_by) BETWEEN 1 AND 200),
    superseded_at timestamptz,
    rescreened_at timestamptz
);

CREATE UNIQUE INDEX sanction_lists_one_current ON bank.sanction_lists (source) WHERE status = 'current';
CREATE INDEX sanction_lists_to_rescreen ON bank.sanction_lists (version) WHERE rescreened_at IS NULL;

CREATE TABLE bank.sanction_entries (
    version bigint NOT NULL REFERENCES bank.sanction_lists (version),
    uid text NOT NULL CHECK (length(uid) BETWEEN 1 AND 64),
    type text NOT NULL CHECK (type IN ('individual', 'entity', 'vessel', 'aircraft')),
    primary_name text NOT NULL CHECK (length(primary_name) BETWEEN 1 AND 1000),
    aliases text[] NOT NULL DEFAULT '{}',
    -- As CashpointCompliance's DateOfBirth writes them: 1970-01-12, 1970-01, 1970, 1968..1970, ~1960.
    dates_of_birth text[] NOT NULL DEFAULT '{}',
    -- ISO 3166-1 alpha-2.
    nationalities text[] NOT NULL DEFAULT '{}',
    address_countries text[] NOT NULL DEFAULT '{}',
    program text NOT NULL DEFAULT '',
    PRIMARY KEY (version, uid)
);

-- The lists are public data; the switch reads them to screen (through bank.sanction_entries_current).
GRANT SELECT ON bank.sanction_lists TO cashpoint_switch;
