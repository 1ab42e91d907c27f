-- 0008: the posting functions keep one plan per statement instead of planning it again on every call.
--
-- PL/pgSQL caches each statement's plan but, under the default plan_cache_mode, re-plans it with the
-- call's parameters ("custom plans") for as long as the generic plan's estimate looks dearer. For
-- bank.post it always did: every posting paid the planner for each of its statements, including
-- inlining the row-level-security policies' context functions (perf: parse and plan were the largest
-- items in a backend's profile). Their statements are keyed lookups whose plan does not depend on
-- the values, so the generic plan is the right one; measured with pgbench driving bank.post (8
-- clients, transfers between 100 accounts): 4,485 -> 5,706 postings/s. docs/performance.md has the
-- figures. Nothing else changes: same functions, same checks, same rows.
SET LOCAL ROLE cashpoint_owner;

ALTER FUNCTION bank.post(text, bigint, bigint, text, text, text, text, text, text, bytea, text, bigint, text, text)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION bank.reverse(text, text, text, text, text, text, bytea, text, text, bigint)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION bank.balance(text, bigint, bigint, text, text, text, text)
    SET plan_cache_mode = force_generic_plan;
