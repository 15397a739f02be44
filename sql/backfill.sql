-- songmatch backfills: resumable, concurrent, transaction-controlled batch jobs, and the
-- staleness triggers that say what an incremental backfill ('stale') has to refresh.
--
-- Runs inside CREATE EXTENSION songmatch after schema.sql (every name is schema-qualified), and
-- can also be loaded again with psql -f into a database that has the extension (every statement
-- is create-or-replace / if-not-exists; pg_extension_config_dump is skipped outside CREATE
-- EXTENSION).
--
--   CALL songmatch.backfill('embeddings');                       -- every track, active bundle
--   CALL songmatch.backfill('profiles', batch_size => 16);       -- every playlist
--   CALL songmatch.backfill('genres');                           -- track_genres from analyses
--   CALL songmatch.backfill('emotions', bundle => 'fixture');    -- activates the bundle first
--   CALL songmatch.backfill('stale');                            -- exactly what changed since
--   CALL songmatch.backfill('embeddings', retry_failed => true); -- retry the failed items
--   select * from songmatch.backfill_status;
--
-- What each job type does, per item (all DB first: a current artifact is a hit, no inference):
--   embeddings  every track: songmatch.embed_tracks(ids, <bundle's embedding model>)
--   profiles    every playlist: songmatch.playlist_profile(id) (members embedded first)
--   genres      every track_analyses row: two track_genres rows (source 'analysis', levels
--               'primary' and 'secondary'; songmatch.analysis_genres), content_hash = the track's
--               document hash
--   emotions    every track: songmatch.classify_tracks(ids) (the active bundle's emotion model;
--               an embedding-head model reuses the stored embeddings); a bundle without an
--               emotion model: a NOTICE, and the job is done with 0 items
--   stale       every row of songmatch.stale_items as it is when the job is created, by kind,
--               as above; the marks an item resolves are deleted when it is done
-- Any job clears the stale marks of the items it completes (unless re-marked meanwhile: only the
-- marks read before processing are deleted, matched on marked_at).
--
-- How a backfill runs. songmatch.backfill is a PROCEDURE that COMMITs after every batch, so it
-- must be CALLed at top level (not inside BEGIN … COMMIT, not from a function, not through a
-- PostgREST RPC, which wraps every call in a transaction, not as one of several statements of a
-- single `psql -c` string): otherwise the first COMMIT fails with "invalid transaction
-- termination" (2D000). It has no SET clause on purpose (a procedure with one cannot commit), so
-- it names everything with its schema; finalize.sql must skip it (prokind 'p').
--   1. Find or create the job. Under a transaction-level advisory lock per (job type, bundle),
--      a job of the same type and bundle that is 'pending' or 'running' is joined (its runner may
--      be alive: then the work is split; or gone — killed, timed out, crashed: then the job
--      resumes); otherwise a new job row is created and its items are enqueued into
--      songmatch.backfill_items in one statement. retry_failed => true also resets the failed
--      items of that job — or of the last finished one of that type and bundle, which is reopened
--      — to pending; with nothing to retry the CALL is an ordinary one. COMMIT.
--   2. Batches: claim up to batch_size pending items of one kind with FOR UPDATE SKIP LOCKED
--      (concurrent CALLs never claim the same item; kinds in name order, so a stale job refreshes
--      embeddings and emotions before the profiles that use them), process them (each item that
--      fails is recorded with its error; the rest of the batch goes on), mark them done/failed,
--      clear the stale marks they resolve, update the job's counters, rate and errors, RAISE
--      NOTICE a progress line (done/total, failed, items/s, ETA), COMMIT. A batch that is
--      interrupted (pg_cancel_backend, statement_timeout, pg_terminate_backend, a crash) rolls
--      back as a whole — including the artifacts and counters it wrote — and its items are still
--      pending for the next CALL. Items that are 'done' are never processed again by the job.
--      Between batches the runner stops when the job was cancelled or its bundle is no longer
--      the active one (a WARNING; the job stays resumable).
--   3. When no pending item is left, the last runner marks the job 'done' (failed items
--      included: see failed/errors). A runner that stops early (max_items) leaves the job
--      resumable ('pending' when no other runner is left).
-- statement_timeout applies to the whole CALL, so `set statement_timeout = '10min'` bounds a
-- run; CALL again to continue. songmatch.backfill_cancel(job_id) stops a job between batches;
-- songmatch.backfill_purge(older_than) deletes the done items of finished jobs.
-- Counters (songmatch.stats) are written by the Rust functions in the batch's transaction, so a
-- rolled-back batch leaves none; songmatch.stats_deltas is UNLOGGED, so a crash empties them.
--
-- Liveness: every batch transaction holds a shared transaction-level advisory lock
-- (classid 1397572166, objid = job id); songmatch.backfill_status counts its holders as `runners`
-- (status 'running' with 0 runners: interrupted, CALL again to resume). Job ids must stay below
-- 2^31 (the lock key is an int4).

-------------------------------------------------------------------------------------------------
-- work queue and stale marks
-------------------------------------------------------------------------------------------------
create table if not exists songmatch.backfill_items (
    job_id      bigint not null references songmatch.analysis_jobs (id) on delete cascade,
    -- what the item is: 'embedding' and 'genres' and 'emotions' (a track id), 'profile' (a
    -- playlist id). A 'stale' job mixes kinds, hence the kind in the key.
    kind        text not null check (kind in ('embedding', 'profile', 'genres', 'emotions')),
    item_id     bigint not null,
    status      text not null default 'pending' check (status in ('pending', 'done', 'failed')),
    attempts    integer not null default 0 check (attempts >= 0),
    error       text,
    updated_at  timestamptz not null default now(),
    primary key (job_id, kind, item_id)
);
comment on table songmatch.backfill_items is
    'Work queue of songmatch.backfill: one row per item of a job; claimed with FOR UPDATE SKIP LOCKED.';
create index if not exists backfill_items_pending_idx
    on songmatch.backfill_items (job_id, kind, item_id) where status = 'pending';

create table if not exists songmatch.stale_items (
    kind       text not null check (kind in ('embedding', 'profile', 'genres', 'emotions')),
    item_id    bigint not null,          -- a track id; a playlist id for 'profile'
    reason     text not null,            -- e.g. 'track_analyses update'
    marked_at  timestamptz not null default clock_timestamp(),
    primary key (kind, item_id)
);
comment on table songmatch.stale_items is
    'Artifacts whose inputs changed since they were computed (filled by triggers); CALL songmatch.backfill(''stale'') refreshes them.';

-- pg_dump keeps backfill_items; stale_items is not dumped: restoring the catalogue fires the
-- staleness triggers, which rebuild it (a dumped copy would collide with those rows)
do $$
begin
    perform pg_catalog.pg_extension_config_dump('songmatch.backfill_items'::regclass, '');
exception when feature_not_supported then
    null;  -- loaded with psql -f, outside CREATE EXTENSION
end
$$;

-------------------------------------------------------------------------------------------------
-- genres of an analysis (the same reading as the profile's genre distribution: primary 1, each
-- secondary 0.5, lower-cased, whitespace collapsed)
-------------------------------------------------------------------------------------------------
create or replace function songmatch.analysis_genres(analysis jsonb)
returns table (source_level text, genres text[], genres_with_scores jsonb)
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
    g        jsonb := analysis -> 'genres';
    prim     text[] := '{}';
    sec      text[] := '{}';
    elem     jsonb;
    i        integer;
    s        text;

begin
    if analysis is not null and jsonb_typeof(analysis) <> 'object' then
        raise exception 'analysis must be a JSON object, got %', jsonb_typeof(analysis) using errcode = '22000';
    end if;
    if g is null or jsonb_typeof(g) = 'null' then
        null;
    elsif jsonb_typeof(g) = 'object' then
        elem := g -> 'primary';
        if elem is null or jsonb_typeof(elem) = 'null' then
            null;
        elsif jsonb_typeof(elem) in ('string', 'number') then
            prim := array[elem #>> '{}'];
        else
            raise exception 'analysis.genres.primary must be a string, got %', jsonb_typeof(elem) using errcode = '22000';
        end if;
        elem := g -> 'secondary';
        if elem is null or jsonb_typeof(elem) = 'null' then
            null;
        elsif jsonb_typeof(elem) = 'string' then
            sec := array[elem #>> '{}'];
        elsif jsonb_typeof(elem) = 'array' then
            for i in 0 .. jsonb_array_length(elem) - 1 loop
                if jsonb_typeof(elem -> i) <> 'string' then
                    raise exception 'analysis.genres.secondary[%] must be a string, got %', i, jsonb_typeof(elem -> i)
                        using errcode = '22000';
                end if;
                sec := sec || (elem ->> i);
            end loop;
        else
            raise exception 'analysis.genres.secondary must be an array of strings, got %', jsonb_typeof(elem)
                using errcode = '22000';
        end if;
    elsif jsonb_typeof(g) = 'string' then
        prim := array[g #>> '{}'];
    elsif jsonb_typeof(g) = 'array' then
        for i in 0 .. jsonb_array_length(g) - 1 loop
            if jsonb_typeof(g -> i) <> 'string' then
                raise exception 'analysis.genres[%] must be a string, got %', i, jsonb_typeof(g -> i) using errcode = '22000';
            end if;
            prim := prim || (g ->> i);
        end loop;
    else
        raise exception 'analysis.genres must be an array of strings, got %', jsonb_typeof(g) using errcode = '22000';
    end if;

    -- normalise, drop empties, de-duplicate in order; a secondary that is also primary is primary
    select coalesce(array_agg(x order by o), '{}') into prim
      from (select distinct on (x) x, o
              from (select lower(regexp_replace(btrim(v), '\s+', ' ', 'g')) as x, o
                      from unnest(prim) with ordinality as u(v, o)) n
             where x <> '' order by x, o) d;
    select coalesce(array_agg(x order by o), '{}') into sec
      from (select distinct on (x) x, o
              from (select lower(regexp_replace(btrim(v), '\s+', ' ', 'g')) as x, o
                      from unnest(sec) with ordinality as u(v, o)) n
             where x <> '' and x <> all (prim) order by x, o) d;

    source_level := 'primary';
    genres := prim;
    genres_with_scores := coalesce((select jsonb_object_agg(x, 1) from unnest(prim) x), '{}');
    return next;
    source_level := 'secondary';
    genres := sec;
    genres_with_scores := coalesce((select jsonb_object_agg(x, 0.5) from unnest(sec) x), '{}');
    return next;
end
$$;
comment on function songmatch.analysis_genres(jsonb) is
    'The primary and secondary genres of a track analysis with their scores (1 and 0.5), as track_genres stores them; a malformed genres field is a data error (22000).';

-------------------------------------------------------------------------------------------------
-- processing one batch of one kind: one row per item (ok, error); never raises for an item
-------------------------------------------------------------------------------------------------
create or replace function songmatch.backfill_process(kind text, ids bigint[], bundle_hash text)
returns table (r_item bigint, r_ok boolean, r_error text)
language plpgsql volatile
-- search_path: set at the end of this file (songmatch, pgvector's schema, pg_catalog): the Rust
-- functions it calls run SQL that names pgvector's types without a schema
as $$
declare
    b          songmatch.model_bundles;
    out_ids    bigint[] := '{}';
    out_ok     boolean[] := '{}';
    out_err    text[] := '{}';
    v_id       bigint;
    st         text;
    er         text;
    an         jsonb;
    h          text;
    dh         text;
    pj         jsonb;
begin
    ids := array(select distinct x from unnest(ids) x where x is not null order by x);
    select * into b from songmatch.model_bundles mb where mb.bundle_hash = backfill_process.bundle_hash;
    if not found then
        raise exception 'model bundle % is not registered', backfill_process.bundle_hash using errcode = '22023';
    end if;

    if kind = 'embedding' or kind = 'emotions' then
        if kind = 'emotions' and b.emotion_model is null then
            -- nothing to compute under this bundle
            raise notice 'backfill: the bundle "%" has no emotion model; % emotion item(s) skipped', b.name, cardinality(ids);
            return query select x, true, null::text from unnest(ids) x;
            return;
        end if;
        -- DB first (current rows are hits, no inference): embed_tracks for the bundle's embedding
        -- model, classify_tracks for the active bundle's emotion model (an embedding-head model
        -- reuses the stored embeddings). Status hit | computed | failed (with error) | missing |
        -- deferred (another session is storing it now: ok is NULL, its stale mark stays).
        begin
            if kind = 'embedding' then
                select array_agg(t.track_id order by t.track_id),
                       array_agg(case when t.status <> 'deferred' then t.status in ('hit', 'computed', 'missing') end order by t.track_id),
                       array_agg(case when t.status = 'failed' then t.error end order by t.track_id)
                  into out_ids, out_ok, out_err
                  from songmatch.embed_tracks(ids, b.embedding_model) t;
            else
                select array_agg(t.track_id order by t.track_id),
                       array_agg(case when t.status <> 'deferred' then t.status in ('hit', 'computed', 'missing') end order by t.track_id),
                       array_agg(case when t.status = 'failed' then t.error end order by t.track_id)
                  into out_ids, out_ok, out_err
                  from songmatch.classify_tracks(ids) t;
            end if;
        exception when others then
            -- the batch failed as a whole: one item at a time, so that only the bad ones fail
            out_ids := '{}'; out_ok := '{}'; out_err := '{}';
            foreach v_id in array ids loop
                begin
                    if kind = 'embedding' then
                        select t.status, t.error into st, er from songmatch.embed_tracks(array[v_id], b.embedding_model) t;
                    else
                        select t.status, t.error into st, er from songmatch.classify_tracks(array[v_id]) t;
                    end if;
                    out_ids := out_ids || v_id;
                    out_ok := out_ok || case when st <> 'deferred' then st in ('hit', 'computed', 'missing') end;
                    out_err := out_err || case when st = 'failed' then er end;
                exception when others then
                    out_ids := out_ids || v_id;
                    out_ok := out_ok || false;
                    out_err := out_err || format('%s (SQLSTATE %s)', sqlerrm, sqlstate);
                end;
            end loop;
        end;

    elsif kind = 'profile' then
        -- the members' embeddings first, in one call that takes its row locks in track-id order
        -- (concurrent runners then never deadlock on track_embeddings); failures show up below
        begin
            perform count(*) from songmatch.embed_tracks(
                array(select distinct pt.track_id from songmatch.playlist_tracks pt
                       where pt.playlist_id = any (ids) order by 1),
                b.embedding_model);
        exception when others then
            null;
        end;
        foreach v_id in array ids loop
            begin
                pj := null;
                if exists (select 1 from songmatch.playlists p where p.id = v_id) then
                    pj := songmatch.playlist_profile(v_id);
                end if;   -- a deleted playlist has nothing to compute
                -- (deferred: another session is storing the profile now; ok NULL keeps the mark)
                out_ids := out_ids || v_id; out_err := out_err || null::text;
                out_ok := out_ok || case when coalesce((pj ->> 'deferred')::boolean, false) then null else true end;
            exception when others then
                out_ids := out_ids || v_id; out_ok := out_ok || false;
                out_err := out_err || format('%s (SQLSTATE %s)', sqlerrm, sqlstate);
            end;
        end loop;

    elsif kind = 'genres' then
        foreach v_id in array ids loop
            begin
                -- (the analysis and its key read together: keyed as the other artifacts, by the
                -- track's document hash)
                select a.analysis, tc.document_hash into an, dh
                  from songmatch.track_analyses a left join songmatch.track_content tc on tc.track_id = a.track_id
                 where a.track_id = v_id;
                if not found then
                    -- no analysis (any more): no analysis genres
                    delete from songmatch.track_genres tg where tg.track_id = v_id and tg.source = 'analysis';
                elsif exists (select 1 from songmatch.track_content tc where tc.track_id = v_id and tc.document_hash is distinct from dh) then
                    -- its document changed since: not stored (as a deferred item, its mark stays
                    -- for the next round, which reads the new one)
                    out_ids := out_ids || v_id; out_ok := out_ok || null::boolean; out_err := out_err || null::text;
                    continue;
                else
                    h := coalesce(dh, songmatch.track_content_hash(v_id));
                    insert into songmatch.track_genres as tg
                           (track_id, source, source_level, content_hash, genres, genres_with_scores)
                    select v_id, 'analysis', g.source_level, h, g.genres, g.genres_with_scores
                      from songmatch.analysis_genres(an) g
                    on conflict (track_id, source, source_level) do update
                       set content_hash = excluded.content_hash, genres = excluded.genres,
                           genres_with_scores = excluded.genres_with_scores
                     where (tg.content_hash, tg.genres, tg.genres_with_scores)
                           is distinct from (excluded.content_hash, excluded.genres, excluded.genres_with_scores);
                end if;
                out_ids := out_ids || v_id; out_ok := out_ok || true; out_err := out_err || null::text;
            exception when others then
                out_ids := out_ids || v_id; out_ok := out_ok || false;
                out_err := out_err || format('%s (SQLSTATE %s)', sqlerrm, sqlstate);
            end;
        end loop;

    else
        raise exception 'unknown backfill item kind "%"', kind using errcode = '22023';
    end if;

    return query select u.i, u.o, u.e from unnest(out_ids, out_ok, out_err) as u(i, o, e);
end
$$;
comment on function songmatch.backfill_process(text, bigint[], text) is
    'One batch of one item kind under a bundle (used by songmatch.backfill): one row per item, ok or its error; an item that fails never stops the others.';

-------------------------------------------------------------------------------------------------
-- the procedure
-------------------------------------------------------------------------------------------------
create or replace procedure songmatch.backfill(
    job_type     text,
    batch_size   integer default 64,
    max_items    integer default null,
    bundle       text    default null,
    retry_failed boolean default false)
language plpgsql
as $$
declare
    c_live      constant integer := 1397572166;   -- advisory lock classid: runners of a job
    c_create    constant integer := 1397572167;   -- advisory lock classid: find-or-create a job
    v_type      text := job_type;
    v_kind      text;
    v_batch     integer := batch_size;
    v_max       integer := max_items;
    b           songmatch.model_bundles;
    j           songmatch.analysis_jobs;
    jid         bigint;
    is_new      boolean := false;
    n_reset     bigint := 0;
    n_enq       bigint;
    others      integer;
    processed   bigint := 0;
    call_start  timestamptz := clock_timestamp();
    lim         integer;
    claim_kind  text;
    claimed     bigint[];
    mark_ids    bigint[];
    mark_at     timestamptz[];
    res_ids     bigint[];
    res_ok      boolean[];
    res_err     text[];
    done_ids    bigint[];
    deferred_ids bigint[];
    new_errs    jsonb;
    d           integer;
    f           integer;
    remaining   bigint;
    eta         text;
    secs        double precision;
    stop_reason text;
begin
    if v_type is null or v_type not in ('embeddings', 'profiles', 'genres', 'emotions', 'stale') then
        raise exception 'job_type must be one of embeddings, profiles, genres, emotions, stale; got %',
            coalesce(quote_literal(v_type), 'NULL') using errcode = '22023';
    end if;
    if v_batch is null or v_batch < 1 or v_batch > 10000 then
        raise exception 'batch_size must be between 1 and 10000, got %', coalesce(v_batch::text, 'NULL') using errcode = '22023';
    end if;
    if v_max is not null and v_max < 0 then
        raise exception 'max_items must be NULL or >= 0, got %', v_max using errcode = '22023';
    end if;
    v_kind := case v_type when 'embeddings' then 'embedding' when 'profiles' then 'profile'
                          when 'genres' then 'genres' when 'emotions' then 'emotions' end;

    -- the bundle: the named one becomes active; else the active one (the installed default if none)
    if backfill.bundle is not null then
        perform songmatch.register_bundle(backfill.bundle, true);
    end if;
    select * into b from songmatch.model_bundles mb where mb.is_active;
    if not found then
        perform songmatch.register_bundle('default', true);
        select * into strict b from songmatch.model_bundles mb where mb.is_active;
    end if;

    -- find (join / resume / reopen for retry) or create the job, serialised per (type, bundle)
    perform pg_catalog.pg_advisory_xact_lock(c_create, pg_catalog.hashtext(v_type || '/' || b.bundle_hash));
    select * into j from songmatch.analysis_jobs aj
     where aj.job_type = v_type and aj.bundle_hash = b.bundle_hash and aj.status in ('pending', 'running')
       and aj.params ->> 'source' = 'songmatch.backfill'
     order by aj.id limit 1;
    if not found and retry_failed then
        select * into j from songmatch.analysis_jobs aj
         where aj.job_type = v_type and aj.bundle_hash = b.bundle_hash and aj.status = 'done'
           and aj.params ->> 'source' = 'songmatch.backfill'
         order by aj.id desc limit 1;
        if found and j.failed = 0 then
            j := null;
        end if;
    end if;

    if j.id is null then
        if v_type = 'emotions' and b.emotion_model is null then
            insert into songmatch.analysis_jobs as aj (job_type, status, bundle_hash, params, started_at, finished_at)
            values (v_type, 'done', b.bundle_hash,
                    jsonb_build_object('source', 'songmatch.backfill', 'bundle', b.name,
                                       'skipped', format('the bundle "%s" has no emotion model', b.name)),
                    now(), now())
            returning aj.id into jid;
            commit;
            raise notice 'backfill job %: nothing to do: the bundle "%" has no emotion model', jid, b.name;
            return;
        end if;
        insert into songmatch.analysis_jobs as aj (job_type, status, bundle_hash, params, started_at)
        values (v_type, 'running', b.bundle_hash,
                jsonb_build_object('source', 'songmatch.backfill', 'bundle', b.name, 'batch_size', v_batch,
                                   'max_items', v_max), now())
        returning * into j;
        jid := j.id;
        is_new := true;
        if jid > 2147483647 then
            raise exception 'analysis_jobs id % is too large for a backfill lock key', jid using errcode = '22003';
        end if;
        if v_type = 'stale' then
            insert into songmatch.backfill_items (job_id, kind, item_id)
            select jid, s.kind, s.item_id from songmatch.stale_items s;
        elsif v_type = 'embeddings' or v_type = 'emotions' then
            insert into songmatch.backfill_items (job_id, kind, item_id)
            select jid, v_kind, t.id from songmatch.tracks t;
        elsif v_type = 'genres' then
            insert into songmatch.backfill_items (job_id, kind, item_id)
            select jid, v_kind, a.track_id from songmatch.track_analyses a;
        else
            insert into songmatch.backfill_items (job_id, kind, item_id)
            select jid, v_kind, p.id from songmatch.playlists p;
        end if;
        get diagnostics n_enq = row_count;
        update songmatch.analysis_jobs aj set total = n_enq where aj.id = jid returning * into j;
    end if;
    jid := j.id;

    if retry_failed then
        with r as (
            update songmatch.backfill_items bi set status = 'pending', updated_at = now()
             where bi.job_id = jid and bi.status = 'failed'
            returning 1)
        select count(*) into n_reset from r;
        if n_reset > 0 then
            update songmatch.analysis_jobs aj set failed = greatest(aj.failed - n_reset, 0)
             where aj.id = jid;
        end if;
    end if;

    -- who else runs this job right now
    select count(*) into others from pg_catalog.pg_locks l
     where l.locktype = 'advisory' and l.database = (select db.oid from pg_catalog.pg_database db where db.datname = current_database())
       and l.classid = c_live::oid and l.objid = jid::oid and l.objsubid = 2 and l.granted and l.pid <> pg_backend_pid();
    update songmatch.analysis_jobs aj
       set status = 'running', finished_at = null,
           started_at = coalesce(aj.started_at, now()),
           params = case when others = 0
                         then aj.params || jsonb_build_object('run_started_at', clock_timestamp(), 'run_base', aj.done + aj.failed)
                         else aj.params end
     where aj.id = jid
    returning * into j;
    perform pg_catalog.pg_advisory_xact_lock_shared(c_live, jid::integer);
    remaining := j.total - j.done - j.failed;
    if is_new then
        raise notice 'backfill job % (%, bundle "%"): % item(s) enqueued', jid, v_type, b.name, j.total;
    elsif others = 0 then
        raise notice 'backfill job % (%, bundle "%"): resuming, % of % item(s) left', jid, v_type, b.name, remaining, j.total;
    else
        raise notice 'backfill job % (%, bundle "%"): joining % running runner(s), % of % item(s) left',
            jid, v_type, b.name, others, remaining, j.total;
    end if;
    if n_reset > 0 then
        raise notice 'backfill job %: % failed item(s) reset to pending', jid, n_reset;
    end if;
    commit;

    loop
        if v_max is not null and processed >= v_max then
            stop_reason := 'max_items';
            exit;
        end if;
        perform pg_catalog.pg_advisory_xact_lock_shared(c_live, jid::integer);
        select * into j from songmatch.analysis_jobs aj where aj.id = jid;
        if not found or j.status = 'cancelled' then
            stop_reason := 'cancelled';
            exit;
        end if;
        exit when j.status = 'done';
        if not exists (select 1 from songmatch.model_bundles mb where mb.bundle_hash = j.bundle_hash and mb.is_active) then
            stop_reason := 'bundle';
            exit;
        end if;
        lim := case when v_max is null then v_batch else least(v_batch, v_max - processed) end;

        -- claim: one kind per batch (kinds in name order: embedding, emotions, genres, profile,
        -- so a stale job refreshes embeddings before the profiles that use them)
        select bi.kind into claim_kind from songmatch.backfill_items bi
         where bi.job_id = jid and bi.status = 'pending'
         order by bi.kind, bi.item_id limit 1
           for update skip locked;
        exit when not found;
        select array_agg(c.item_id order by c.item_id) into claimed
          from (select bi.item_id from songmatch.backfill_items bi
                 where bi.job_id = jid and bi.kind = claim_kind and bi.status = 'pending'
                 order by bi.item_id limit lim
                   for update skip locked) c;
        exit when claimed is null;

        -- the stale marks as they are before processing: only these are cleared afterwards
        select array_agg(s.item_id order by s.item_id), array_agg(s.marked_at order by s.item_id)
          into mark_ids, mark_at
          from songmatch.stale_items s where s.kind = claim_kind and s.item_id = any (claimed);

        select array_agg(p.r_item), array_agg(p.r_ok), array_agg(p.r_error)
          into res_ids, res_ok, res_err
          from songmatch.backfill_process(claim_kind, claimed, j.bundle_hash) p;

        -- (a deferred item, ok NULL: done for this job, its stale mark left for the refresher)
        with r as (
            select c.id, case when x.i is null then false else coalesce(x.o, true) end as o,
                   case when x.i is null then 'no result from songmatch.backfill_process' else x.e end as e
              from unnest(claimed) c(id)
              left join unnest(res_ids, res_ok, res_err) x(i, o, e) on x.i = c.id)
        update songmatch.backfill_items bi
           set status = case when r.o then 'done' else 'failed' end,
               attempts = bi.attempts + 1,
               error = case when r.o then null else coalesce(r.e, 'failed') end,
               updated_at = now()
          from r
         where bi.job_id = jid and bi.kind = claim_kind and bi.item_id = r.id;
        select coalesce(array_agg(x.i order by x.i) filter (where x.o is not false), '{}'),
               coalesce(array_agg(x.i order by x.i) filter (where x.o is null), '{}'),
               count(*) filter (where not x.o),
               jsonb_agg(jsonb_build_object('kind', claim_kind, 'item_id', x.i, 'error', coalesce(x.e, 'failed'), 'at', now())
                         order by x.i) filter (where not x.o)
          into done_ids, deferred_ids, f, new_errs
          from (select c.id as i, case when u.i is null then false else u.o end as o, u.e
                  from unnest(claimed) c(id) left join unnest(res_ids, res_ok, res_err) u(i, o, e) on u.i = c.id) x;
        d := cardinality(done_ids);

        -- clear the stale marks that this batch resolved (unless re-marked meanwhile; a mark that a
        -- writer is renewing right now is skipped, not waited for: it stays stale)
        if mark_ids is not null then
            delete from songmatch.stale_items s
             where s.ctid = any (array(
                 select s2.ctid from songmatch.stale_items s2
                   join unnest(mark_ids, mark_at) m(i, at) on s2.kind = claim_kind and s2.item_id = m.i and s2.marked_at = m.at
                  where m.i = any (done_ids) and m.i <> all (deferred_ids)
                  order by s2.item_id
                    for update of s2 skip locked));
        end if;

        update songmatch.analysis_jobs aj
           set done = aj.done + d,
               failed = aj.failed + f,
               status = case when aj.status = 'pending' then 'running' else aj.status end,
               items_per_s = case
                   when extract(epoch from clock_timestamp() - (aj.params ->> 'run_started_at')::timestamptz) > 0
                   then (aj.done + d + aj.failed + f - coalesce((aj.params ->> 'run_base')::bigint, 0))
                        / extract(epoch from clock_timestamp() - (aj.params ->> 'run_started_at')::timestamptz)::float8
                   end,
               errors = case when f > 0 then jsonb_path_query_array(aj.errors || new_errs, '$[last-99 to last]')
                             else aj.errors end
         where aj.id = jid
        returning * into j;
        processed := processed + cardinality(claimed);
        remaining := greatest(j.total - j.done - j.failed, 0);
        eta := case when j.items_per_s > 0
                    then justify_interval(make_interval(secs => round(remaining / j.items_per_s)))::text
                    else '?' end;
        raise notice 'backfill job % (%): %/% done, % failed, % items/s, ETA %',
            jid, v_type, j.done, j.total, j.failed, round(coalesce(j.items_per_s, 0)::numeric, 1), eta;
        commit;
    end loop;

    secs := extract(epoch from clock_timestamp() - call_start);
    if stop_reason is null then
        if not exists (select 1 from songmatch.backfill_items bi where bi.job_id = jid and bi.status = 'pending') then
            update songmatch.analysis_jobs aj set status = 'done', finished_at = now()
             where aj.id = jid and aj.status in ('pending', 'running')
            returning * into j;
            if found then
                raise notice 'backfill job % (%) done: % item(s), % done, % failed; this call processed % in % s',
                    jid, v_type, j.total, j.done, j.failed, processed, round(secs::numeric, 1);
                if j.failed > 0 then
                    raise notice 'backfill job %: the errors are in songmatch.backfill_items (status ''failed''); CALL songmatch.backfill(''%'', retry_failed => true) retries them',
                        jid, v_type;
                end if;
            else
                raise notice 'backfill job % (%): finished by another runner; this call processed % in % s',
                    jid, v_type, processed, round(secs::numeric, 1);
            end if;
        else
            raise notice 'backfill job % (%): the items left are being processed by other runners; this call processed % in % s',
                jid, v_type, processed, round(secs::numeric, 1);
        end if;
    else
        select count(*) into others from pg_catalog.pg_locks l
         where l.locktype = 'advisory' and l.database = (select db.oid from pg_catalog.pg_database db where db.datname = current_database())
           and l.classid = c_live::oid and l.objid = jid::oid and l.objsubid = 2 and l.granted and l.pid <> pg_backend_pid();
        if stop_reason = 'cancelled' then
            raise notice 'backfill job % (%): cancelled; this call processed % in % s', jid, v_type, processed, round(secs::numeric, 1);
        else
            if others = 0 then
                update songmatch.analysis_jobs aj set status = 'pending' where aj.id = jid and aj.status = 'running'
                returning * into j;
            end if;
            if stop_reason = 'max_items' then
                raise notice 'backfill job % (%): stopped after % item(s) (max_items), % left; CALL songmatch.backfill(''%'') again to continue',
                    jid, v_type, processed, greatest(j.total - j.done - j.failed, 0), v_type;
            else
                raise warning 'backfill job % (%): stopped: its bundle is no longer the active one; activate it again and CALL songmatch.backfill(''%'') to continue',
                    jid, v_type, v_type;
            end if;
        end if;
    end if;
    commit;
end
$$;
comment on procedure songmatch.backfill(text, integer, integer, text, boolean) is
    'Resumable, concurrent backfill (embeddings | profiles | genres | emotions | stale) that commits after every batch; CALL it at top level. See songmatch.backfill_status.';

-------------------------------------------------------------------------------------------------
-- status, cancel, purge
-------------------------------------------------------------------------------------------------
create or replace view songmatch.backfill_status as
select j.id                                             as job_id,
       j.job_type,
       mb.name                                          as bundle,
       j.status,                                        -- 'running' with 0 runners: interrupted; CALL again to resume
       r.runners,
       r.runner_pids,
       j.total,
       j.done,
       j.failed,
       greatest(j.total - j.done - j.failed, 0)         as remaining,
       case when j.total > 0 then round(100.0 * (j.done + j.failed) / j.total, 1)
            when j.status = 'done' then 100.0 else 0.0 end as percent,
       round(j.items_per_s::numeric, 2)                 as items_per_s,
       case when j.status in ('pending', 'running') and j.items_per_s > 0
            then make_interval(secs => round(greatest(j.total - j.done - j.failed, 0) / j.items_per_s)) end as eta,
       j.started_at,
       j.finished_at,
       j.updated_at,
       (j.errors -> -1 ->> 'item_id')::bigint           as last_error_item,
       j.errors -> -1 ->> 'error'                       as last_error
  from songmatch.analysis_jobs j
  left join songmatch.model_bundles mb on mb.bundle_hash = j.bundle_hash
  cross join lateral (
      select count(*)::integer as runners, coalesce(array_agg(l.pid order by l.pid), '{}') as runner_pids
        from pg_catalog.pg_locks l
       where l.locktype = 'advisory'
         and l.database = (select db.oid from pg_catalog.pg_database db where db.datname = current_database())
         and l.classid = 1397572166::oid and l.objid = j.id::oid and l.objsubid = 2 and l.granted) r;
comment on view songmatch.backfill_status is
    'Every job of songmatch.analysis_jobs: type, bundle, status, live runners (backfill CALLs in a batch) and their pids, total/done/failed, percent, items/s, ETA, times and the last error.';

create or replace function songmatch.backfill_cancel(job_id bigint, interrupt boolean default false)
returns boolean
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
declare
    ok boolean;
begin
    update songmatch.analysis_jobs aj set status = 'cancelled', finished_at = now()
     where aj.id = backfill_cancel.job_id and aj.status in ('pending', 'running');
    ok := found;
    if ok and interrupt then
        -- stop the batches in flight now (they roll back) instead of after them
        perform pg_cancel_backend(l.pid)
           from pg_locks l
          where l.locktype = 'advisory' and l.database = (select db.oid from pg_database db where db.datname = current_database())
            and l.classid = 1397572166::oid and l.objid = backfill_cancel.job_id::oid and l.objsubid = 2 and l.granted
            and l.pid <> pg_backend_pid();
    end if;
    return ok;
end
$$;
comment on function songmatch.backfill_cancel(bigint, boolean) is
    'Cancels a pending or running backfill job: its runners stop before their next batch (with interrupt, their current batch is cancelled and rolled back). Returns false when the job was not pending or running.';

create or replace function songmatch.backfill_purge(older_than interval default '7 days')
returns bigint
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
    with gone as (
        delete from songmatch.backfill_items bi
         using songmatch.analysis_jobs j
         where j.id = bi.job_id and j.status in ('done', 'cancelled', 'failed') and bi.status = 'done'
           and coalesce(j.finished_at, j.updated_at) < now() - older_than
        returning 1)
    select count(*) from gone
$$;
comment on function songmatch.backfill_purge(interval) is
    'Deletes the done items of backfill jobs that finished before now() - older_than (job rows and failed items are kept); returns how many.';

-------------------------------------------------------------------------------------------------
-- staleness: triggers record which artifacts have to be refreshed
-------------------------------------------------------------------------------------------------
-- What each artifact is computed from (and so what marks it stale):
--   embedding, emotions of a track  <- the track's document (its td_v1_ document hash: the text the
--                                      models read); a change of a column the document does not
--                                      show (popularity, duration, ...) marks neither
--   genres of a track               <- its analysis
--   profile of a playlist           <- the playlist row, its analysis, its members and their
--                                      content hashes (stage-1 signals: popularity included)
-- liked_tracks has no trigger: liked tracks are only match *candidates*; the match cache
-- (match_contexts) is keyed on the candidate set's hash and on every candidate's content hash,
-- so a new or removed like simply makes a different context, and nothing stored goes stale.
-- Deleting a track or a playlist deletes its artifacts (on delete cascade) and its marks.
-- TRUNCATE fires none of these triggers.
-- The trigger functions are SECURITY DEFINER (with a pinned search_path and schema-qualified
-- names): a role allowed to edit, say, its playlists (under row-level security) needs no
-- privilege on stale_items, and the marks cover every playlist containing a changed track, not
-- only those the editing user can see.

-- (profiles => false: on a Citus shard, which cannot read the distributed playlist_tracks; a
-- profile there is recomputed where its user lives, when it is matched)
create or replace function songmatch.mark_stale_tracks(track_ids bigint[], reason text, profiles boolean default true)
returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
    -- (every writer marks in the same order: the tracks' kinds, then the profiles, each sorted)
    insert into songmatch.stale_items as s (kind, item_id, reason, marked_at)
    select k.kind, t.id, mark_stale_tracks.reason, clock_timestamp()
      from (select distinct x.id from unnest(track_ids) x(id) where x.id is not null) t
     cross join (values ('embedding'), ('genres'), ('emotions')) k(kind)
     order by k.kind, t.id
    on conflict (kind, item_id) do update set reason = excluded.reason, marked_at = excluded.marked_at;
    if profiles then
        insert into songmatch.stale_items as s (kind, item_id, reason, marked_at)
        select 'profile', p.playlist_id, mark_stale_tracks.reason, clock_timestamp()
          from (select distinct pt.playlist_id from songmatch.playlist_tracks pt where pt.track_id = any (track_ids)) p
         order by p.playlist_id
        on conflict (kind, item_id) do update set reason = excluded.reason, marked_at = excluded.marked_at;
    end if;
end
$$;
comment on function songmatch.mark_stale_tracks(bigint[], text, boolean) is
    'Marks the embedding, genres and emotions of these tracks and (unless profiles is false) the profiles of the playlists containing them as stale.';

-- An update's marks: the artifacts whose inputs changed, kinds[i] of track_ids[i] (embedding,
-- emotions and genres where the document changed, genres where the analysis did), then the profiles of the
-- playlists holding any changed track; in the same order as mark_stale_tracks (kinds, then
-- profiles, each sorted), so that writers never wait on each other's marks in a cycle.
create or replace function songmatch.mark_stale_changes(track_ids bigint[], kinds text[], changed bigint[], reason text)
returns void
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
begin
    insert into songmatch.stale_items as s (kind, item_id, reason, marked_at)
    select distinct x.kind, x.id, mark_stale_changes.reason, clock_timestamp()
      from unnest(track_ids, kinds) x(id, kind)
     where x.id is not null and x.kind in ('embedding', 'emotions', 'genres')
     order by x.kind, x.id
    on conflict (kind, item_id) do update set reason = excluded.reason, marked_at = excluded.marked_at;
    insert into songmatch.stale_items as s (kind, item_id, reason, marked_at)
    select 'profile', p.playlist_id, mark_stale_changes.reason, clock_timestamp()
      from (select distinct pt.playlist_id from songmatch.playlist_tracks pt where pt.track_id = any (changed)) p
     order by p.playlist_id
    on conflict (kind, item_id) do update set reason = excluded.reason, marked_at = excluded.marked_at;
end
$$;
comment on function songmatch.mark_stale_changes(bigint[], text[], bigint[], text) is
    'Marks kinds[i] of track_ids[i] stale, then the profiles of the playlists containing the changed tracks.';

create or replace function songmatch.mark_stale_playlists(playlist_ids bigint[], reason text)
returns void
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
    insert into songmatch.stale_items as s (kind, item_id, reason, marked_at)
    select 'profile', p.id, mark_stale_playlists.reason, clock_timestamp()
      from (select distinct x.id from unnest(playlist_ids) x(id) where x.id is not null) p
     order by p.id
    on conflict (kind, item_id) do update set reason = excluded.reason, marked_at = excluded.marked_at
$$;
comment on function songmatch.mark_stale_playlists(bigint[], text) is
    'Marks the profiles of these playlists as stale.';

-- tracks: a new track has no artifact yet; a changed row changes the profiles that hold it, and
-- its embedding, emotions and genres (all keyed by the document) only when its document changed
create or replace function songmatch.stale_tracks_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    -- (a Citus shard: only the coordinator's copy marks, and no profiles; sql/shards.sql)
    plain   boolean := tg_table_name = 'tracks';
    changed bigint[];
    ids     bigint[];
    kinds   text[];
begin
    if not (plain or songmatch.stale_marks_here(tg_table_name)) then
        return null;
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_tracks(array(select n.id from new_rows n), 'tracks insert', plain);
    elsif tg_op = 'UPDATE' and plain then
        changed := array(
            select n.id from new_rows n join old_rows o on o.id = n.id
             where songmatch.row_content(n) is distinct from songmatch.row_content(o));
        select array_agg(d.id order by k.kind, d.id), array_agg(k.kind order by k.kind, d.id) into ids, kinds
          from (select n.id from new_rows n join old_rows o on o.id = n.id
                  left join songmatch.track_analyses a on a.track_id = n.id
                 where n.id = any (changed)
                   and songmatch.track_document_hash(songmatch.row_content(n), a.analysis)
                       is distinct from songmatch.track_document_hash(songmatch.row_content(o), a.analysis)) d
         cross join (values ('embedding'), ('emotions'), ('genres')) k(kind);
        perform songmatch.mark_stale_changes(ids, kinds, changed, 'tracks update');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_tracks(array(
            select coalesce(n.id, o.id)
              from new_rows n full join old_rows o on o.id = n.id
             where n.id is null or o.id is null
                or songmatch.row_content(n) is distinct from songmatch.row_content(o)), 'tracks update', plain);
    else
        delete from songmatch.stale_items s
         where s.kind in ('embedding', 'genres', 'emotions') and s.item_id in (select o.id from old_rows o);
    end if;
    return null;
end
$$;

create or replace function songmatch.stale_track_analyses_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    -- (a Citus shard: only the coordinator's copy marks, and no profiles; sql/shards.sql)
    plain   boolean := tg_table_name = 'track_analyses';
    changed bigint[];
    ids     bigint[];
    kinds   text[];
begin
    if not (plain or songmatch.stale_marks_here(tg_table_name)) then
        return null;
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_tracks(array(select n.track_id from new_rows n), 'track_analyses insert', plain);
    elsif tg_op = 'UPDATE' and plain then
        -- genres and profiles follow the analysis; embedding and emotions the document
        changed := array(
            select n.track_id from new_rows n join old_rows o on o.track_id = n.track_id
             where n.analysis is distinct from o.analysis);
        select array_agg(i.id order by i.kind, i.id), array_agg(i.kind order by i.kind, i.id) into ids, kinds
          from (select x.id, 'genres' as kind from unnest(changed) x(id)
                union all
                select n.track_id, k.kind from new_rows n join old_rows o on o.track_id = n.track_id
                  join songmatch.tracks t on t.id = n.track_id
                 cross join (values ('embedding'), ('emotions')) k(kind)
                 where n.track_id = any (changed)
                   and songmatch.track_document_hash(songmatch.row_content(t), n.analysis)
                       is distinct from songmatch.track_document_hash(songmatch.row_content(t), o.analysis)) i;
        perform songmatch.mark_stale_changes(ids, kinds, changed, 'track_analyses update');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_tracks(array(
            select coalesce(n.track_id, o.track_id)
              from new_rows n full join old_rows o on o.track_id = n.track_id
             where n.track_id is null or o.track_id is null or n.analysis is distinct from o.analysis),
            'track_analyses update', plain);
    else
        perform songmatch.mark_stale_tracks(array(select o.track_id from old_rows o), 'track_analyses delete', plain);
    end if;
    return null;
end
$$;

create or replace function songmatch.stale_playlists_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_table_name <> 'playlists' then
        return null;  -- (a Citus shard: the profile is recomputed where its user lives, when it is matched)
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_playlists(array(select n.id from new_rows n), 'playlists insert');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_playlists(array(
            select coalesce(n.id, o.id)
              from new_rows n full join old_rows o on o.id = n.id
             where n.id is null or o.id is null
                or songmatch.row_content(n) is distinct from songmatch.row_content(o)), 'playlists update');
    else
        delete from songmatch.stale_items s where s.kind = 'profile' and s.item_id in (select o.id from old_rows o);
    end if;
    return null;
end
$$;

create or replace function songmatch.stale_playlist_analyses_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_table_name <> 'playlist_analyses' then
        return null;  -- (a Citus shard: the profile is recomputed where its user lives, when it is matched)
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_playlists(array(select n.playlist_id from new_rows n), 'playlist_analyses insert');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_playlists(array(
            select coalesce(n.playlist_id, o.playlist_id)
              from new_rows n full join old_rows o on o.playlist_id = n.playlist_id
             where n.playlist_id is null or o.playlist_id is null or n.analysis is distinct from o.analysis),
            'playlist_analyses update');
    else
        perform songmatch.mark_stale_playlists(array(select o.playlist_id from old_rows o), 'playlist_analyses delete');
    end if;
    return null;
end
$$;

-- membership: the profile's members change (position is not part of the profile)
create or replace function songmatch.stale_playlist_tracks_trigger() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_table_name <> 'playlist_tracks' then
        return null;  -- (a Citus shard: the profile is recomputed where its user lives, when it is matched)
    end if;
    if tg_op = 'INSERT' then
        perform songmatch.mark_stale_playlists(array(select n.playlist_id from new_rows n), 'playlist_tracks insert');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_playlists(array(
            select n.playlist_id from new_rows n
             where not exists (select 1 from old_rows o where o.playlist_id = n.playlist_id and o.track_id = n.track_id)
            union
            select o.playlist_id from old_rows o
             where not exists (select 1 from new_rows n where n.playlist_id = o.playlist_id and n.track_id = o.track_id)),
            'playlist_tracks update');
    else
        perform songmatch.mark_stale_playlists(array(select o.playlist_id from old_rows o), 'playlist_tracks delete');
    end if;
    return null;
end
$$;

do $$
declare
    t   record;
begin
    for t in
        select * from (values ('tracks', 'stale_tracks_trigger'),
                              ('track_analyses', 'stale_track_analyses_trigger'),
                              ('playlists', 'stale_playlists_trigger'),
                              ('playlist_analyses', 'stale_playlist_analyses_trigger'),
                              ('playlist_tracks', 'stale_playlist_tracks_trigger')) v(tbl, fn)
    loop
        execute format('create or replace trigger %I after insert on songmatch.%I referencing new table as new_rows
                        for each statement execute function songmatch.%I()', t.tbl || '_stale_ins', t.tbl, t.fn);
        execute format('create or replace trigger %I after update on songmatch.%I referencing old table as old_rows new table as new_rows
                        for each statement execute function songmatch.%I()', t.tbl || '_stale_upd', t.tbl, t.fn);
        execute format('create or replace trigger %I after delete on songmatch.%I referencing old table as old_rows
                        for each statement execute function songmatch.%I()', t.tbl || '_stale_del', t.tbl, t.fn);
    end loop;
end
$$;

-- backfill_process calls the Rust functions, whose SQL names pgvector's types without a schema:
-- give it the search_path that finalize.sql gives the other functions (done here too, so that the
-- file also works when loaded with psql -f, after finalize.sql has run)
do $$
declare
    vschema text;
begin
    select n.nspname into strict vschema
      from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector';
    execute format('alter function songmatch.backfill_process(text, bigint[], text) set search_path = pg_catalog, songmatch, %I, pg_temp',
                   vschema);
end
$$;
