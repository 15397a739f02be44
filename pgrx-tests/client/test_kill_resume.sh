#!/usr/bin/env bash
# Kill & resume: a backfill terminated by pg_terminate_backend mid-run is resumed by a second
# CALL; committed batches are not recomputed, the batch in flight was rolled back (with the
# counters it had written), so every track is embedded exactly once.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=300

setup_db "${N}"
sql "select songmatch.stats_reset()" >/dev/null

sql_log "call songmatch.backfill('embeddings', batch_size => 20)" "${WORK}/run1.log" bf_runner_1 &
BG_PIDS+=($!)
RUNNER=$!
wait_for "done >= 60" 300 "select coalesce(max(done), 0) >= 60 from songmatch.analysis_jobs where job_type = 'embeddings'"
# Hold the job row: the runner then blocks at the end of its current batch, after the batch's
# embeddings and counters were written (uncommitted). Kill it exactly there.
sql_log "begin; select 1 from songmatch.analysis_jobs where job_type = 'embeddings' for update; select pg_sleep(300); commit" \
    "${WORK}/locker.log" bf_locker &
BG_PIDS+=($!)
LOCKER=$!
wait_for "the runner blocked on the job row" 120 \
    "select wait_event_type = 'Lock' from pg_stat_activity where datname = current_database() and application_name = 'bf_runner_1'"
RPID=$(backend_pid bf_runner_1)
check_sql "the blocked batch has written counters (uncommitted)" "t" \
    "select exists (select 1 from pg_locks where pid = ${RPID} and relation = 'songmatch.stats_deltas'::regclass)"
check_sql "the blocked batch has written embeddings (uncommitted)" "t" \
    "select exists (select 1 from pg_locks where pid = ${RPID} and relation = 'songmatch.track_embeddings'::regclass)"
check_sql "terminated the runner" "t" "select pg_terminate_backend(${RPID})"
if wait "${RUNNER}"; then fail "the terminated CALL exited with status 0"; fi
check_sql "released the job row" "t" \
    "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'bf_locker'"
wait "${LOCKER}" || true
grep -q "terminat" "${WORK}/run1.log" || fail "the first CALL did not report its termination: $(tail -3 "${WORK}/run1.log")"

DONE=$(sql "select done from songmatch.analysis_jobs where job_type = 'embeddings'")
say "killed after ${DONE} committed items"
((DONE >= 60 && DONE < N)) || fail "done after the kill is ${DONE}"
# the batch in flight left nothing: rows, item states and counters all match the committed batches
check "embeddings after the kill" "${DONE}" "$(embeddings_count)"
check "inference counter after the kill (the killed batch's deltas rolled back)" "${DONE}" "$(inferences)"
check_sql "items done after the kill" "${DONE}" "select count(*) from songmatch.backfill_items where status = 'done'"
check_sql "items pending after the kill" "$((N - DONE))" "select count(*) from songmatch.backfill_items where status = 'pending'"
check_sql "job left running, no live runner" "running 0" "select status || ' ' || runners from songmatch.backfill_status"

sql_log "call songmatch.backfill('embeddings', batch_size => 20)" "${WORK}/run2.log" || fail "resume failed: $(tail -5 "${WORK}/run2.log")"
grep -q "resuming, $((N - DONE)) of ${N} item(s) left" "${WORK}/run2.log" || fail "no resume notice: $(head -3 "${WORK}/run2.log")"
grep -q "this call processed $((N - DONE)) in" "${WORK}/run2.log" || fail "the resume did not process exactly the rest: $(tail -2 "${WORK}/run2.log")"

check "embeddings" "${N}" "$(embeddings_count)"
check "duplicate embedding keys" "0" "$(embeddings_dups)"
check "inference counter" "${N}" "$(inferences)"
check_sql "embedding misses" "${N}" "select songmatch.stat('embedding_misses')::bigint"
check_sql "jobs" "1" "select count(*) from songmatch.analysis_jobs"
check_sql "job" "done ${N} 0 100.0" "select status || ' ' || done || ' ' || failed || ' ' || percent from songmatch.backfill_status"
check_sql "every item processed once" "${N} 1 1" "select count(*) || ' ' || min(attempts) || ' ' || max(attempts) from songmatch.backfill_items where status = 'done'"
check_sql "embeddings hashes current" "0" \
    "select count(*) from songmatch.track_embeddings e where e.content_hash is distinct from (select tc.document_hash from songmatch.track_content tc where tc.track_id = e.track_id)"
pass
