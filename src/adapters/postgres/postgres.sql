-- SQL of the PostgreSQL store (jobledger.adapters.postgres).
-- Each statement follows a "-- name: <name>" line. Names in braces ({events}, {sequence},
-- {tracking}, {index}) are identifiers filled in with psycopg.sql; %(x)s are parameters.
-- Objects are created unqualified, in the first schema of the connection's search_path.

-- name: lock_schema
-- Serialises schema creation and migration between processes starting at once (start-up only).
SELECT pg_advisory_xact_lock(7020359119513026561);

-- name: create_schema_table
CREATE TABLE IF NOT EXISTS jobledger_schema (
    name text PRIMARY KEY,
    version integer NOT NULL
);

-- name: select_schema_version
SELECT version FROM jobledger_schema WHERE name = 'jobledger';

-- name: insert_schema_version
INSERT INTO jobledger_schema (name, version) VALUES ('jobledger', %(version)s);

-- name: relation_exists
-- Checked before creating: CREATE INDEX IF NOT EXISTS and ALTER SEQUENCE lock a table in
-- use, queue behind writes in flight and can deadlock with them.
SELECT to_regclass(%(name)s) IS NOT NULL;

-- name: create_functions
-- Takes the positions of a multi-event insert. The transaction id is assigned BEFORE the
-- first nextval, which is what lets readers decide when every position up to a sequence
-- value is final. The positions are contiguous with respect to other multi-event inserts:
-- an advisory lock is held only while taking them; it belongs to the inner block, whose
-- deliberate rollback releases it at once (the positions are kept: sequences are not
-- transactional). It is never held until commit, and single-event inserts never take it.
CREATE OR REPLACE FUNCTION jobledger_allocate_ids(seq regclass, n integer)
RETURNS bigint[] LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids bigint[];
BEGIN
    PERFORM pg_current_xact_id();
    BEGIN
        PERFORM pg_advisory_xact_lock(19020, seq::oid::bigint::bit(32)::integer);
        ids := ARRAY(SELECT nextval(seq) FROM generate_series(1, n));
        RAISE SQLSTATE 'JL000';
    EXCEPTION WHEN SQLSTATE 'JL000' THEN
        NULL;
    END;
    RETURN ids;
END
$$;

-- Reads the sequence's last value L, THEN takes a transaction id R, THEN a snapshot. Every
-- writer that took an id <= L had its transaction id before L was read, so below R. If the
-- snapshot shows no transaction below R still running, every id <= L is final (is_clear).
-- Otherwise (L, R) becomes final once a later snapshot's xmin reaches R.
CREATE OR REPLACE FUNCTION jobledger_feed_horizon(
    seq regclass,
    OUT last_id bigint,
    OUT reader_xid bigint,
    OUT snapshot_xmin bigint,
    OUT is_clear boolean
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    reader xid8;
    snap pg_snapshot;
BEGIN
    last_id := coalesce(pg_sequence_last_value(seq), 0);
    reader := pg_current_xact_id();
    SELECT pg_current_snapshot() INTO snap;
    reader_xid := reader::text::bigint;
    snapshot_xmin := pg_snapshot_xmin(snap)::text::bigint;
    is_clear := pg_snapshot_xmax(snap) >= reader
        AND NOT EXISTS (SELECT FROM pg_snapshot_xip(snap) AS running WHERE running < reader);
END
$$;

-- name: create_snapshots_table
CREATE TABLE IF NOT EXISTS {events} (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text NOT NULL,
    state bytea NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
);

-- name: create_events_table
CREATE SEQUENCE IF NOT EXISTS {sequence} AS bigint;
CREATE TABLE IF NOT EXISTS {events} (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    notification_id bigint NOT NULL,
    topic text NOT NULL,
    state bytea NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
);
ALTER SEQUENCE {sequence} OWNED BY {events}.notification_id;
CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {events} (notification_id);

-- name: create_tracking_table
CREATE TABLE IF NOT EXISTS {tracking} (
    application_name text PRIMARY KEY,
    notification_id bigint NOT NULL
);

-- name: insert_snapshots
INSERT INTO {events} (originator_id, originator_version, topic, state)
SELECT * FROM unnest(%(ids)s::uuid[], %(versions)s::bigint[], %(topics)s::text[], %(states)s::bytea[]);

-- name: insert_event
-- The common case, one event, inline: the transaction id is taken first (the MATERIALIZED
-- row is produced before the outer row calls nextval), then one position, with no lock.
-- Run as a libpq prepared statement with binary parameters; {sequence} is a literal.
WITH xact AS MATERIALIZED (SELECT pg_current_xact_id())
INSERT INTO {events} (originator_id, originator_version, notification_id, topic, state)
SELECT $1::uuid, $2::bigint, nextval({sequence}::regclass), $3::text, $4::bytea FROM xact
RETURNING notification_id;

-- name: insert_events
-- One statement, so in autocommit mode one round trip and one transaction per insert.
WITH allocated AS MATERIALIZED (
    SELECT jobledger_allocate_ids(%(sequence)s::regclass, %(count)s) AS ids
), inserted AS (
    INSERT INTO {events} (originator_id, originator_version, notification_id, topic, state)
    SELECT e.originator_id, e.originator_version, allocated.ids[e.ord], e.topic, e.state
    FROM allocated, unnest(%(ids)s::uuid[], %(versions)s::bigint[], %(topics)s::text[], %(states)s::bytea[])
        WITH ORDINALITY AS e (originator_id, originator_version, topic, state, ord)
)
SELECT ids FROM allocated;

-- name: select_events
SELECT originator_id, originator_version, topic, state FROM {events} WHERE originator_id = %(id)s;

-- name: feed_horizon
SELECT last_id, reader_xid, snapshot_xmin, is_clear FROM jobledger_feed_horizon(%(sequence)s::regclass);

-- name: dense_upto
-- The highest id U such that every id in (base, U] is present (committed), base if none.
WITH RECURSIVE walk (id) AS (
    SELECT %(base)s::bigint
    UNION ALL
    SELECT walk.id + 1 FROM walk
    WHERE walk.id < %(last)s AND EXISTS (SELECT FROM {events} WHERE notification_id = walk.id + 1)
)
SELECT max(id) FROM walk;

-- name: select_notifications
SELECT notification_id, originator_id, originator_version, topic, state FROM {events}
WHERE notification_id > %(after)s AND notification_id <= %(upto)s
    AND (%(topics)s::text[] IS NULL OR topic = ANY(%(topics)s::text[]))
ORDER BY notification_id LIMIT %(limit)s;

-- name: select_streams
-- A job's history: its streams through the primary key, not the feed.
SELECT notification_id, originator_id, originator_version, topic, state FROM {events}
WHERE originator_id = ANY(%(ids)s::uuid[])
ORDER BY notification_id;

-- name: max_notification_id
SELECT max(notification_id) FROM {events} WHERE notification_id <= %(upto)s;

-- name: delete_streams
DELETE FROM {events} WHERE originator_id = ANY(%(ids)s::uuid[]);

-- name: insert_tracking
INSERT INTO {tracking} AS t (application_name, notification_id)
VALUES (%(application_name)s, %(notification_id)s)
ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id
WHERE t.notification_id < excluded.notification_id
RETURNING notification_id;

-- name: max_tracking_id
SELECT notification_id FROM {tracking} WHERE application_name = %(application_name)s;

-- name: create_view_tables
-- The status view (jobledger.adapters.postgres.view); only view updaters write its tables.
-- JSON is text, not jsonb: jsonb cannot hold the \u0000 escape that a NUL in a name, message
-- or metadata string becomes; component names are bytea (UTF-8) for the same reason.
CREATE TABLE IF NOT EXISTS {position} (
    view text PRIMARY KEY,
    position bigint NOT NULL
);
INSERT INTO {position} (view, position) VALUES ('status', 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS {jobs} (
    job_id uuid PRIMARY KEY,
    position bigint NOT NULL,
    overall text NOT NULL,
    tally text NOT NULL
) WITH (fillfactor = 70);
CREATE INDEX IF NOT EXISTS {jobs_position_idx} ON {jobs} (position);
CREATE INDEX IF NOT EXISTS {jobs_overall_idx} ON {jobs} (overall, position);
CREATE TABLE IF NOT EXISTS {components} (
    job_id uuid NOT NULL,
    name bytea NOT NULL,
    ordinal bigint NOT NULL,
    status text NOT NULL,
    updated_at timestamptz,
    state text NOT NULL,
    PRIMARY KEY (job_id, name)
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS {components_ordinal_idx} ON {components} (job_id, ordinal);
-- Ordering by uuid is ordering by its text: both compare the same hex digits in order.
CREATE INDEX IF NOT EXISTS {components_stale_idx} ON {components} (updated_at, job_id, ordinal)
    WHERE status IN ('in_progress', 'retrying');

-- name: select_view_position
SELECT position FROM {position} WHERE view = 'status';

-- name: lock_view
-- Waits for the updater advancing the view now (see try_lock_view), and keeps others out.
SELECT true
FROM pg_advisory_xact_lock(%(key)s),
     set_config('idle_in_transaction_session_timeout', '1min', true);

-- name: try_lock_view
-- One updater at a time: whoever gets this lock reads, folds and commits batches (each in a
-- transaction of its own, on another connection) while the transaction that holds it stays
-- open, idle in between: its idle timeout is a minute, far above a run's half second and
-- short enough that a stuck updater (a stopped process) lets the others in (a session ended
-- meanwhile, by that or by a pooler, fails the updater's next commit: it asks for the lock
-- again, re-entrantly, before each one); the others wait for it (await_view_lock) instead
-- of folding the same events again. Transaction-scoped, so a killed updater lets go at once.
SELECT locked
FROM pg_try_advisory_xact_lock(%(key)s) AS locked,
     set_config('idle_in_transaction_session_timeout', '1min', true);

-- name: await_view_lock
-- Returns once the updater holding the lock lets go (autocommit: released at once).
SELECT pg_advisory_xact_lock_shared(%(key)s);

-- name: commit_view_batch
-- One statement, so one round trip: move the position from `since` to `until` and upsert the
-- rows, only if it moved (a committer whose position has moved changes nothing; the caller
-- retries from the new position). The notification is sent only if the transaction commits.
-- Columns come as arrays passed as binary parameters: psycopg dumps text arrays element by
-- element with regular expressions, which took a third of a catch-up.
WITH moved AS (
    UPDATE {position} SET position = %(until)s WHERE view = 'status' AND position = %(since)s
    RETURNING pg_notify(%(channel)s, %(until)s::text)
), upserted_jobs AS (
    INSERT INTO {jobs} AS j (job_id, position, overall, tally)
    SELECT * FROM unnest(
        %(job_ids)b::uuid[], %(positions)b::bigint[], %(overalls)b::text[], %(tallies)b::text[]
    ) WHERE EXISTS (SELECT FROM moved)
    ON CONFLICT (job_id) DO UPDATE
    SET position = excluded.position, overall = excluded.overall, tally = excluded.tally
), upserted_components AS (
    INSERT INTO {components} AS c (job_id, name, ordinal, status, updated_at, state)
    SELECT * FROM unnest(
        %(component_job_ids)b::uuid[], %(names)b::bytea[], %(ordinals)b::bigint[],
        %(statuses)b::text[], %(updated)b::timestamptz[], %(states)b::text[]
    ) WHERE EXISTS (SELECT FROM moved)
    ON CONFLICT (job_id, name) DO UPDATE
    SET ordinal = excluded.ordinal, status = excluded.status, updated_at = excluded.updated_at,
        state = excluded.state
)
SELECT count(*) FROM moved;

-- name: copy_view_components
-- The component rows of jobs created in the batch being committed (none can exist yet).
COPY {components} (job_id, name, ordinal, status, updated_at, state) FROM STDIN (FORMAT BINARY);

-- name: select_view_named
-- One statement, one round trip: the job's row first (no ordinal), then the named
-- components it has.
SELECT NULL::bigint AS ordinal, position, NULL::bytea AS name, tally AS state
FROM {jobs} WHERE job_id = %(job_id)s
UNION ALL
SELECT ordinal, NULL, name, state FROM {components}
WHERE job_id = %(job_id)s AND name = ANY(%(names)b::bytea[])
ORDER BY ordinal NULLS FIRST;

-- name: select_view_snapshot
-- One statement, so one snapshot: the job's row first (no ordinal), then its components.
SELECT NULL::bigint AS ordinal, position, tally AS state FROM {jobs} WHERE job_id = %(job_id)s
UNION ALL
SELECT ordinal, NULL, state FROM {components} WHERE job_id = %(job_id)s
ORDER BY ordinal NULLS FIRST;

-- name: select_view_components
SELECT ordinal, state FROM {components}
WHERE job_id = %(job_id)s AND ordinal > %(after)s ORDER BY ordinal LIMIT %(limit)s;

-- name: select_view_jobs
SELECT position, tally FROM {jobs}
WHERE position < %(before)s ORDER BY position DESC LIMIT %(limit)s;

-- name: select_view_jobs_by_status
SELECT position, tally FROM {jobs}
WHERE overall = %(status)s AND position < %(before)s ORDER BY position DESC LIMIT %(limit)s;

-- name: select_view_stale
SELECT job_id, ordinal, state FROM {components}
WHERE status IN ('in_progress', 'retrying') AND updated_at < %(before)s
ORDER BY updated_at, job_id, ordinal LIMIT %(limit)s;

-- name: delete_view_components
DELETE FROM {components} WHERE job_id = ANY(%(job_ids)s::uuid[]);

-- name: delete_view_jobs
DELETE FROM {jobs} WHERE job_id = ANY(%(job_ids)s::uuid[]);
