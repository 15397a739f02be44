-- songmatch's background refresh: what the staleness triggers mark (songmatch.stale_items) is made
-- current by the refresher, a background worker per database (src/sql/refresh.rs), one batch at a
-- time through songmatch.refresh_batch: the same per-item code as CALL songmatch.backfill
-- (songmatch.backfill_process), DB first, so an item whose content hash did not change costs no
-- inference. Failures are retried with backoff and then parked (songmatch.refresh_failures); a
-- parked item is retried when its row changes again (a new stale mark). songmatch.pipeline_status
-- shows backlog, age, rate, failures and whether the refresher runs.

create table if not exists songmatch.refresh_failures (
    kind             text not null,
    item_id          bigint not null,
    marked_at        timestamptz not null,        -- the stale mark that failed (a newer mark retries)
    attempts         integer not null default 1,
    last_error       text,
    failed_at        timestamptz not null default now(),
    next_attempt_at  timestamptz not null,
    parked           boolean not null default false,
    primary key (kind, item_id)
);
comment on table songmatch.refresh_failures is
    'Stale items the refresher could not make current: retried with backoff (1, 2, 4, 8 s), parked after 5 attempts until the row changes again.';

create table if not exists songmatch.refresh_log (
    at       timestamptz not null default clock_timestamp(),
    kind     text not null,
    items    integer not null,
    failed   integer not null,
    ms       double precision not null,
    pid      integer not null default pg_catalog.pg_backend_pid()
);
create index if not exists refresh_log_at_idx on songmatch.refresh_log (at);
comment on table songmatch.refresh_log is
    'One row per refresher batch (kept for an hour): the rate in songmatch.pipeline_status.';

-- One batch: up to batch_size stale items of the first kind (embedding, emotions, genres, profile)
-- that has claimable ones, claimed with a transaction-level advisory lock per item that is only
-- ever tried (concurrent refreshers split the work), processed, and their marks cleared (only the
-- marks read here: an item marked again meanwhile stays stale). The marks' rows are not locked
-- while the models run, so a writer that marks an item again never waits for a batch; clearing
-- skips a mark that a writer is renewing right now (it stays, and is taken again). An item whose
-- artifact another session is computing and storing (status deferred, src/sql/flight.rs) keeps
-- its mark without counting as a failure. Returns the kind and counts (no row when there was
-- nothing to do).
-- Yields (no row) while a CALL songmatch.backfill job has a runner, so that the two never
-- compute the same item twice. Used by the refresher; a DBA may call it too.
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

create or replace view songmatch.pipeline_status as
with kinds(kind, ord) as (values ('embedding', 1), ('emotions', 2), ('genres', 3), ('profile', 4)),
     stale as (select s.kind, count(*) as backlog, min(s.marked_at) as oldest from songmatch.stale_items s group by s.kind),
     fails as (select f.kind, count(*) filter (where f.parked) as parked, count(*) filter (where not f.parked) as retrying,
                      (array_agg(f.last_error order by f.failed_at desc))[1] as last_error
                 from songmatch.refresh_failures f group by f.kind),
     rate as (select l.kind, sum(l.items - l.failed) as done_1m, sum(l.failed) as failed_1m
                from songmatch.refresh_log l where l.at > clock_timestamp() - interval '1 minute' group by l.kind),
     workers as (select count(*) as n from pg_catalog.pg_stat_activity a
                  where a.backend_type = 'songmatch refresher' and a.datid = (select oid from pg_catalog.pg_database where datname = current_database()))
select k.kind,
       coalesce(s.backlog, 0) as backlog,
       clock_timestamp() - s.oldest as oldest_stale_age,
       round(coalesce(r.done_1m, 0) / 60.0, 2) as items_per_s_1m,
       coalesce(r.failed_1m, 0) as failed_1m,
       coalesce(f.retrying, 0) as retrying,
       coalesce(f.parked, 0) as parked,
       f.last_error,
       (select n from workers) > 0 as refresher_running,
       current_setting('songmatch.auto_refresh', true) as auto_refresh
  from kinds k
  left join stale s on s.kind = k.kind
  left join fails f on f.kind = k.kind
  left join rate r on r.kind = k.kind
 order by k.ord;
comment on view songmatch.pipeline_status is
    'The background refresh per artifact kind: backlog and oldest stale age, items/s over the last minute, failures being retried and parked (with the last error), and whether a refresher runs in this database.';

-- pg_dump keeps the failures (a parked item stays parked); the log is rebuilt by the refresher
do $$
begin
    perform pg_catalog.pg_extension_config_dump('songmatch.refresh_failures'::regclass, '');
exception when feature_not_supported then
    null;
end
$$;
