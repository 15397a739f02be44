#!/usr/bin/env bash
# Crash & resume: the backend running a backfill is killed with SIGKILL, so the whole server goes
# through crash recovery (every session of the cluster is terminated: run it on a test server).
# The committed batches survive; the batch in flight is gone. songmatch.stats_deltas is UNLOGGED,
# so crash recovery empties it: the inference counter restarts at 0 and, after the resume,
# equals exactly the number of items the resume computed.
# Needs the server on this machine (the test signals the backend's OS process). It runs by
# default; SONGMATCH_TEST_CRASH=0 makes it skip, and run.sh counts a skip as a failure unless
# SONGMATCH_ALLOW_SKIP names crash_resume: an inherited variable cannot turn it off silently.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=300

case "${SONGMATCH_TEST_CRASH:-1}" in
    1) ;;
    0) skip "SONGMATCH_TEST_CRASH=0 (the server is not restarted)" ;;
    *) fail "SONGMATCH_TEST_CRASH must be 0 or 1, not '${SONGMATCH_TEST_CRASH}'" ;;
esac
setup_db "${N}"
sql "select songmatch.stats_reset()" >/dev/null

# (the development server runs with synchronous_commit = off, which may lose the last commits of
# any session in a crash; the runner asks for durable commits, as a production server has them)
PGOPTIONS="-c synchronous_commit=on" sql_log "call songmatch.backfill('embeddings', batch_size => 20)" "${WORK}/run1.log" bf_runner_1 &
BG_PIDS+=($!)
RUNNER=$!
wait_for "done >= 60" 300 "select coalesce(max(done), 0) >= 60 from songmatch.analysis_jobs where job_type = 'embeddings'"
# as in kill_resume: stop the runner at the end of a computed batch, then kill it there
sql_log "begin; select 1 from songmatch.analysis_jobs where job_type = 'embeddings' for update; select pg_sleep(300); commit" \
    "${WORK}/locker.log" bf_locker &
BG_PIDS+=($!)
LOCKER=$!
wait_for "the runner blocked on the job row" 120 \
    "select wait_event_type = 'Lock' from pg_stat_activity where datname = current_database() and application_name = 'bf_runner_1'"
RPID=$(backend_pid bf_runner_1)
[[ -r "/proc/${RPID}/comm" ]] && grep -q postgres "/proc/${RPID}/comm" \
    || skip "backend ${RPID} is not a process of this machine (remote server?)"
check_sql "the blocked batch has written counters (uncommitted)" "t" \
    "select exists (select 1 from pg_locks where pid = ${RPID} and relation = 'songmatch.stats_deltas'::regclass)"
DONE=$(sql "select done from songmatch.backfill_status")
say "kill -9 backend ${RPID} after ${DONE} committed items"
kill -9 "${RPID}"
if wait "${RUNNER}"; then fail "the killed CALL exited with status 0"; fi
wait "${LOCKER}" || true
wait_server 120
say "server back after crash recovery"

check_sql "committed items after the crash" "${DONE}" "select done from songmatch.analysis_jobs"
check "embeddings after the crash" "${DONE}" "$(embeddings_count)"
check "inference counter after crash recovery (unlogged: emptied)" "0" "$(inferences)"
check_sql "items pending after the crash" "$((N - DONE))" "select count(*) from songmatch.backfill_items where status = 'pending'"
check_sql "job left running, no live runner" "running 0" "select status || ' ' || runners from songmatch.backfill_status"

sql_log "call songmatch.backfill('embeddings', batch_size => 20)" "${WORK}/run2.log" || fail "resume failed: $(tail -5 "${WORK}/run2.log")"
grep -q "resuming, $((N - DONE)) of ${N} item(s) left" "${WORK}/run2.log" || fail "no resume notice: $(head -3 "${WORK}/run2.log")"

check "embeddings" "${N}" "$(embeddings_count)"
check "duplicate embedding keys" "0" "$(embeddings_dups)"
check "inference counter (= items the resume computed)" "$((N - DONE))" "$(inferences)"
check_sql "embedding hits of the resume (none: done items are not revisited)" "0" "select songmatch.stat('embedding_hits')::bigint"
check_sql "jobs" "1" "select count(*) from songmatch.analysis_jobs"
check_sql "job" "done ${N} 0" "select status || ' ' || done || ' ' || failed from songmatch.backfill_status"
check_sql "every item processed once" "${N} 1" "select count(*) || ' ' || max(attempts) from songmatch.backfill_items where status = 'done'"
pass
