-- songmatch 0.7.0 -> 0.8.0: artifacts keyed by the document they are computed from, and writes
-- of shared rows that never wait (a live catalogue under load).
--
-- * songmatch.track_document_hash(track, analysis) and track_content.document_hash: the td_v1_
--   hash of the text the models read of a track. An embedding's, emotions' or genres' content_hash
--   is that hash: a change of a column the document does not show (popularity, duration, ...)
--   leaves them current and marks only the profiles that hold the track.
-- * Every artifact that was current before the update (its content_hash the track's te_v1_
--   content hash) is re-keyed to its document's hash here: nothing is computed again.
-- * The staleness triggers compare documents; the refresher and CALL backfill hold no stale mark
--   while models run and skip the marks a writer is renewing; items another session is storing
--   are 'deferred' (src/sql/flight.rs).

CREATE FUNCTION songmatch."track_document_hash"(
	"track" jsonb, /* Option < JsonB > */
	"analysis" jsonb /* Option < JsonB > */
) RETURNS TEXT /* Option < String > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'track_document_hash_wrapper';

alter table songmatch.track_content add column document_hash text;
comment on table songmatch.track_content is
    'The current te_v1_ content hash, td_v1_ document hash and compact stage-1 signals of every track (maintained by triggers on tracks and track_analyses).';
update songmatch.track_content tc
   set document_hash = songmatch.track_document_hash(s.track, s.analysis)
  from (select t.id, to_jsonb(t) - array['id', 'created_at', 'updated_at'] as track, a.analysis
          from songmatch.tracks t left join songmatch.track_analyses a on a.track_id = t.id) s
 where s.id = tc.track_id;

-- artifacts of the current content: keyed by its document from now on (their rows otherwise as
-- they were: updated_at too)
alter table songmatch.track_embeddings drop constraint track_embeddings_content_hash_check;
alter table songmatch.track_embeddings add constraint track_embeddings_content_hash_check
    check (content_hash ~ '^t[de]_v1_[0-9a-f]{64}$');
alter table songmatch.track_emotions drop constraint track_emotions_content_hash_check;
alter table songmatch.track_emotions add constraint track_emotions_content_hash_check
    check (content_hash ~ '^t[de]_v1_[0-9a-f]{64}$');
comment on table songmatch.track_embeddings is
    'One current embedding per (track, kind, model, version); content_hash is the td_v1_ hash of the document it embeds.';
alter table songmatch.track_embeddings disable trigger track_embeddings_touch;
alter table songmatch.track_emotions disable trigger track_emotions_touch;
alter table songmatch.track_genres disable trigger track_genres_touch;
update songmatch.track_embeddings e set content_hash = tc.document_hash
  from songmatch.track_content tc
 where tc.track_id = e.track_id and e.content_hash = tc.content_hash and tc.document_hash is not null;
update songmatch.track_emotions e set content_hash = tc.document_hash
  from songmatch.track_content tc
 where tc.track_id = e.track_id and e.content_hash = tc.content_hash and tc.document_hash is not null;
update songmatch.track_genres g set content_hash = tc.document_hash
  from songmatch.track_content tc
 where tc.track_id = g.track_id and g.content_hash = tc.content_hash and tc.document_hash is not null;
alter table songmatch.track_embeddings enable trigger track_embeddings_touch;
alter table songmatch.track_emotions enable trigger track_emotions_touch;
alter table songmatch.track_genres enable trigger track_genres_touch;

-- ------------------------------------------------------------------------------------------
-- the functions as a fresh install has them (sql/schema.sql, sql/backfill.sql, sql/refresh.sql)
-- ------------------------------------------------------------------------------------------
create or replace function songmatch.refresh_track_content() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    tid    bigint;
    shards text[];
begin
    if tg_table_name not in ('tracks', 'track_analyses') then
        -- a Citus shard: this node's copies (sql/shards.sql; none yet while distribute() runs)
        shards := array[songmatch.shard_of('songmatch.track_content', tg_table_name), songmatch.shard_of('songmatch.tracks', tg_table_name),
                        songmatch.shard_of('songmatch.track_analyses', tg_table_name)];
        if '' = any (shards) then
            return null;
        end if;
        tid := coalesce(to_jsonb(coalesce(new, old)) ->> 'track_id', to_jsonb(new) ->> 'id')::bigint;
        execute pg_catalog.format(
            'insert into %s as tc (track_id, content_hash, signals, document_hash)
             select s.id, songmatch.content_hash(''track_content'', jsonb_build_object(''track'', s.track, ''analysis'', s.analysis)),
                    songmatch.track_signals(s.track, s.analysis), songmatch.track_document_hash(s.track, s.analysis)
               from (select t.id, to_jsonb(t) - array[''id'', ''created_at'', ''updated_at''] as track, a.analysis
                       from %s t left join %s a on a.track_id = t.id
                      where t.id = $1) s
             on conflict (track_id) do update set content_hash = excluded.content_hash, signals = excluded.signals,
                    document_hash = excluded.document_hash, updated_at = now()
              where tc.content_hash <> excluded.content_hash or tc.signals is distinct from excluded.signals
                 or tc.document_hash is distinct from excluded.document_hash',
            shards[1], shards[2], shards[3])
        using tid;
        return null;
    end if;
    -- (separate branches: a record has only its own table's fields)
    if tg_table_name = 'tracks' then
        tid := new.id;
    elsif tg_op = 'DELETE' then
        tid := old.track_id;
    else
        tid := new.track_id;
    end if;
    insert into songmatch.track_content as tc (track_id, content_hash, signals, document_hash)
    select s.id, songmatch.content_hash('track_content', jsonb_build_object('track', s.track, 'analysis', s.analysis)),
           songmatch.track_signals(s.track, s.analysis), songmatch.track_document_hash(s.track, s.analysis)
      from (select t.id, to_jsonb(t) - array['id', 'created_at', 'updated_at'] as track, a.analysis
              from songmatch.tracks t left join songmatch.track_analyses a on a.track_id = t.id
             where t.id = tid) s
    on conflict (track_id) do update set content_hash = excluded.content_hash, signals = excluded.signals,
           document_hash = excluded.document_hash, updated_at = now()
     where tc.content_hash <> excluded.content_hash or tc.signals is distinct from excluded.signals
        or tc.document_hash is distinct from excluded.document_hash;
    return null;
end
$$;

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
             where to_jsonb(n) - array['id', 'created_at', 'updated_at'] is distinct from to_jsonb(o) - array['id', 'created_at', 'updated_at']);
        select array_agg(d.id order by k.kind, d.id), array_agg(k.kind order by k.kind, d.id) into ids, kinds
          from (select n.id from new_rows n join old_rows o on o.id = n.id
                  left join songmatch.track_analyses a on a.track_id = n.id
                 where n.id = any (changed)
                   and songmatch.track_document_hash(to_jsonb(n) - array['id', 'created_at', 'updated_at'], a.analysis)
                       is distinct from songmatch.track_document_hash(to_jsonb(o) - array['id', 'created_at', 'updated_at'], a.analysis)) d
         cross join (values ('embedding'), ('emotions')) k(kind);
        perform songmatch.mark_stale_changes(ids, kinds, changed, 'tracks update');
    elsif tg_op = 'UPDATE' then
        perform songmatch.mark_stale_tracks(array(
            select coalesce(n.id, o.id)
              from new_rows n full join old_rows o on o.id = n.id
             where n.id is null or o.id is null
                or to_jsonb(n) - array['id', 'created_at', 'updated_at']
                   is distinct from to_jsonb(o) - array['id', 'created_at', 'updated_at']), 'tracks update', plain);
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
                   and songmatch.track_document_hash(to_jsonb(t) - array['id', 'created_at', 'updated_at'], n.analysis)
                       is distinct from songmatch.track_document_hash(to_jsonb(t) - array['id', 'created_at', 'updated_at'], o.analysis)) i;
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
                select a.analysis into an from songmatch.track_analyses a where a.track_id = v_id;
                if not found then
                    -- no analysis (any more): no analysis genres
                    delete from songmatch.track_genres tg where tg.track_id = v_id and tg.source = 'analysis';
                else
                    -- (keyed as the other artifacts: the track's document hash)
                    select tc.document_hash into h from songmatch.track_content tc where tc.track_id = v_id;
                    h := coalesce(h, songmatch.track_content_hash(v_id));
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

create or replace function songmatch.refresh_batch(batch_size integer default 64)
returns table (kind text, items integer, failed integer)
language plpgsql volatile
as $$
declare
    b        songmatch.model_bundles;
    k        text;
    ids      bigint[];
    marks    timestamptz[];
    t0       timestamptz := clock_timestamp();
    n_failed integer := 0;
    r        record;
begin
    if batch_size is null or batch_size < 1 or batch_size > 10000 then
        raise exception 'batch_size must be between 1 and 10000, got %', coalesce(batch_size::text, 'NULL') using errcode = '22023';
    end if;
    if exists (select 1 from songmatch.backfill_status s where s.runners > 0) then
        return;
    end if;
    select * into b from songmatch.model_bundles mb where mb.is_active;
    if not found then
        if not exists (select 1 from songmatch.stale_items) then
            return;
        end if;
        perform songmatch.register_bundle('default', true);
        select * into strict b from songmatch.model_bundles mb where mb.is_active;
    end if;
    -- a CALL backfill that is creating or joining its job waits for this batch (and this batch
    -- yields to one that is doing so): the job then sees what this batch made current
    if not (select bool_and(pg_catalog.pg_try_advisory_xact_lock(1397572167, pg_catalog.hashtext(t || '/' || b.bundle_hash)))
              from unnest(array['embeddings', 'emotions', 'genres', 'profiles', 'stale']) t) then
        return;
    end if;
    foreach k in array array['embedding', 'emotions', 'genres', 'profile'] loop
        -- (candidates first, then the advisory locks tried on those only: LIMIT bounds the tries)
        select array_agg(c.item_id order by c.item_id), array_agg(c.marked_at order by c.item_id)
          into ids, marks
          from (select x.item_id, x.marked_at
                  from (select s.item_id, s.marked_at
                          from songmatch.stale_items s
                          left join songmatch.refresh_failures f
                            on f.kind = s.kind and f.item_id = s.item_id and f.marked_at = s.marked_at
                         where s.kind = k and (f.item_id is null or (not f.parked and f.next_attempt_at <= now()))
                         order by s.marked_at, s.item_id
                         limit batch_size * 2) x
                 where pg_catalog.pg_try_advisory_xact_lock(1397572171, pg_catalog.hashtext(k || '/' || x.item_id))
                 limit batch_size) c;
        continue when ids is null;
        for r in select p.r_item, p.r_ok, p.r_error from songmatch.backfill_process(k, ids, b.bundle_hash) p loop
            if r.r_ok is null then
                null;  -- deferred: another session is storing it; the mark stays for a later batch
            elsif r.r_ok then
                delete from songmatch.stale_items s
                 where s.ctid = (select s2.ctid from songmatch.stale_items s2
                                  where s2.kind = k and s2.item_id = r.r_item
                                    and s2.marked_at = marks[array_position(ids, r.r_item)]
                                    for update skip locked);
                delete from songmatch.refresh_failures f where f.kind = k and f.item_id = r.r_item;
            else
                n_failed := n_failed + 1;
                insert into songmatch.refresh_failures as f
                       (kind, item_id, marked_at, attempts, last_error, failed_at, next_attempt_at, parked)
                values (k, r.r_item, marks[array_position(ids, r.r_item)], 1, r.r_error, now(), now() + interval '1 second', false)
                on conflict on constraint refresh_failures_pkey do update
                   set attempts = case when f.marked_at = excluded.marked_at then f.attempts + 1 else 1 end,
                       marked_at = excluded.marked_at, last_error = excluded.last_error, failed_at = now(),
                       next_attempt_at = now() + make_interval(secs => 2 ^ least(
                           case when f.marked_at = excluded.marked_at then f.attempts else 0 end, 10)),
                       parked = (case when f.marked_at = excluded.marked_at then f.attempts + 1 else 1 end) >= 5;
            end if;
        end loop;
        insert into songmatch.refresh_log (kind, items, failed, ms)
        values (k, cardinality(ids), n_failed, extract(epoch from clock_timestamp() - t0) * 1000);
        delete from songmatch.refresh_log l where l.at < now() - interval '1 hour';
        kind := k; items := cardinality(ids); failed := n_failed;
        return next;
        return;
    end loop;
end
$$;
comment on function songmatch.refresh_batch(integer) is
    'One batch of the background refresh: up to batch_size stale items of one kind made current (DB first), failures recorded for retry; no row when there is nothing to do.';

-- ------------------------------------------------------------------------------------------
-- owners, search paths and grants of the new and replaced functions, as in a fresh install
-- ------------------------------------------------------------------------------------------
do $$
declare
    vschema text;
begin
    select n.nspname into strict vschema
      from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector';
    execute format('alter function songmatch.backfill_process(text, bigint[], text) set search_path = pg_catalog, songmatch, %I, pg_temp',
                   vschema);
    execute format('alter function songmatch.refresh_batch(integer) set search_path = pg_catalog, songmatch, %I, pg_temp',
                   vschema);
end
$$;
do $$
declare
    f regprocedure;
    r name;
begin
    foreach f in array array['songmatch.track_document_hash(jsonb,jsonb)',
                             'songmatch.mark_stale_changes(bigint[],text[],bigint[],text)']::regprocedure[] loop
        execute format('alter function %s owner to songmatch_owner', f);
        execute format('revoke execute on function %s from public', f);
        -- management roles (those that may execute grant_management) may execute every function
        for r in
            select a.rolname from pg_catalog.pg_roles a
             where a.rolname <> 'songmatch_owner' and not a.rolsuper
               and has_function_privilege(a.oid, 'songmatch.grant_management(name)', 'EXECUTE')
        loop
            execute format('grant execute on function %s to %I', f, r);
        end loop;
    end loop;
end
$$;
