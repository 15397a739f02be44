-- songmatch 0.9.0 -> 0.9.1: a live catalogue keeps every track's content and artifacts current.
--
-- * songmatch.refresh_track_content(): the trigger locks the track's track_content row before it
--   reads the track and its analysis. Two transactions that changed one track at once (its row and
--   its analysis) each computed from what it saw of the other's table before that committed, and
--   the later one stored a content hash, signals and document hash of neither: the track's
--   artifacts were then keyed by a document it does not have, and its genres were never marked
--   again.
-- * songmatch.stale_tracks_trigger(): a change of a track's row that changes its document (name,
--   artist, album, release year) marks its genres too, which are keyed by the document.
-- * songmatch.backfill_process(): genres read the analysis and its key in one statement, and are
--   not stored when the document changed since (the item stays marked for the next round).
-- * A repair: every track_content row is recomputed from its track and analysis; where the
--   document hash was wrong, the track's embedding, emotions and genres and its playlists'
--   profiles are marked stale (the refresher or CALL songmatch.backfill('stale') recomputes
--   them); where only the content hash or signals were wrong, its playlists' profiles.

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
        -- (locked before the track and its analysis are read: see below)
        execute pg_catalog.format('select 1 from %s where track_id = $1 for update', shards[1]) using tid;
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
    -- The track's row is locked before its track and analysis are read. Two transactions that
    -- change one track at once, one its row (a popularity) and one its analysis, would otherwise
    -- each compute from what it saw of the other's table before that committed, and the one that
    -- wrote last would store a document hash (and signals) of neither: artifacts keyed by a
    -- document nobody has, genres never marked again. Here the second waits for the first and
    -- then reads it (READ COMMITTED: each statement reads what has committed).
    perform 1 from songmatch.track_content tc where tc.track_id = tid for update;
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
         cross join (values ('embedding'), ('emotions'), ('genres')) k(kind);
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


-- the repair (no inference here: what is wrong is marked for the refresher)
do $$
declare
    doc_ids  bigint[];
    all_ids  bigint[];
begin
    with fresh as (
        select s.id, songmatch.content_hash('track_content', jsonb_build_object('track', s.track, 'analysis', s.analysis)) as content_hash,
               songmatch.track_signals(s.track, s.analysis) as signals, songmatch.track_document_hash(s.track, s.analysis) as document_hash
          from (select t.id, to_jsonb(t) - array['id', 'created_at', 'updated_at'] as track, a.analysis
                  from songmatch.tracks t left join songmatch.track_analyses a on a.track_id = t.id) s),
    fixed as (
        update songmatch.track_content tc
           set content_hash = f.content_hash, signals = f.signals, document_hash = f.document_hash, updated_at = now()
          from fresh f
         where tc.track_id = f.id
           and (tc.content_hash, tc.signals, tc.document_hash) is distinct from (f.content_hash, f.signals, f.document_hash)
        returning tc.track_id, (select o.document_hash from songmatch.track_content o where o.track_id = tc.track_id) is distinct from f.document_hash as doc)
    select array_agg(x.track_id order by x.track_id) filter (where x.doc), array_agg(x.track_id order by x.track_id)
      into doc_ids, all_ids
      from fixed x;
    if all_ids is not null then
        perform songmatch.mark_stale_changes(
            array(select d.id from unnest(coalesce(doc_ids, '{}')) d(id), (values ('embedding'), ('emotions'), ('genres')) k(kind) order by k.kind, d.id),
            array(select k.kind from unnest(coalesce(doc_ids, '{}')) d(id), (values ('embedding'), ('emotions'), ('genres')) k(kind) order by k.kind, d.id),
            all_ids, 'songmatch 0.9.1: track content repaired');
        raise notice 'songmatch 0.9.1: % track content row(s) repaired, % with another document (marked stale)',
            cardinality(all_ids), coalesce(cardinality(doc_ids), 0);
    end if;
end
$$;
