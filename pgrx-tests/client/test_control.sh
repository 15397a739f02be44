#!/usr/bin/env bash
# Control: max_items, backfill_status (rate, ETA), cancel, statement_timeout in the middle of a
# run (the batch in flight rolls back; CALL again resumes), argument errors, CALL inside a
# transaction block, purge.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=100

setup_db "${N}"
sql "select songmatch.stats_reset()" >/dev/null

sql_log "call songmatch.backfill('embeddings', batch_size => 16, max_items => 40)" "${WORK}/m1.log" || fail "$(tail -5 "${WORK}/m1.log")"
grep -q "stopped after 40 item(s) (max_items), 60 left" "${WORK}/m1.log" || fail "max_items notice: $(tail -2 "${WORK}/m1.log")"
check "progress lines (16 + 16 + 8)" "3" "$(grep -c 'done, 0 failed, .* items/s, ETA' "${WORK}/m1.log")"
check_sql "job after max_items" "pending 40 60 40.0 true true" \
    "select status || ' ' || done || ' ' || remaining || ' ' || percent || ' ' || (items_per_s > 0) || ' ' || (eta is not null) from songmatch.backfill_status"
check "embeddings" "40" "$(embeddings_count)"
sql_log "call songmatch.backfill('embeddings', max_items => 0)" "${WORK}/m0.log" || fail "$(tail -5 "${WORK}/m0.log")"
check_sql "max_items => 0 processes nothing" "pending 40" "select status || ' ' || done from songmatch.backfill_status"

# statement_timeout stops the CALL mid-run; the job stays resumable. To be sure the timeout
# strikes inside a batch, a locker holds the job row once some batches are committed: the runner
# then waits at the end of its batch until the timeout cancels it.
# (separate -c options: one -c string with several statements runs as one transaction, where
# the procedure may not COMMIT; the model is loaded first, embed() records no counter)
# (the inference service forgets the texts it ran for earlier tests, which it would answer at once)
sql "select songmatch.reload_models()" >/dev/null
"${PSQL}" "$(dsn) application_name=bf_runner" -X -q -v ON_ERROR_STOP=1 -c "select songmatch.embed('warm up') is not null" \
    -c "set statement_timeout = '8s'" \
    -c "call songmatch.backfill('embeddings', batch_size => 5)" >"${WORK}/t1.log" 2>&1 &
BG_PIDS+=($!)
RUNNER=$!
wait_for "done >= 50" 60 "select done >= 50 from songmatch.analysis_jobs"
sql_log "begin; select 1 from songmatch.analysis_jobs for update; select pg_sleep(60); commit" "${WORK}/locker.log" bf_locker &
BG_PIDS+=($!)
LOCKER=$!
if wait "${RUNNER}"; then fail "the CALL was not stopped by statement_timeout: $(tail -2 "${WORK}/t1.log")"; fi
sql "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'bf_locker'" >/dev/null
wait "${LOCKER}" || true
grep -q "canceling statement due to statement timeout" "${WORK}/t1.log" || fail "$(tail -3 "${WORK}/t1.log")"
DONE=$(sql "select done from songmatch.analysis_jobs")
say "statement_timeout stopped the run at ${DONE} done"
((DONE > 40 && DONE < N)) || fail "done after the timeout is ${DONE}"
check "embeddings after the timeout" "${DONE}" "$(embeddings_count)"
check "inferences after the timeout" "${DONE}" "$(inferences)"
check_sql "job after the timeout" "running 0" "select status || ' ' || runners from songmatch.backfill_status"

# cancel: the next CALL starts a new job (done tracks are hits there: no inference)
check_sql "cancel" "t" "select songmatch.backfill_cancel(job_id) from songmatch.backfill_status"
check_sql "cancel again" "f" "select songmatch.backfill_cancel(job_id) from songmatch.backfill_status"
sql_log "call songmatch.backfill('embeddings', batch_size => 50)" "${WORK}/c1.log" || fail "$(tail -5 "${WORK}/c1.log")"
check_sql "jobs" "1 cancelled ${DONE}|2 done ${N}" \
    "select string_agg(job_id || ' ' || status || ' ' || done, '|' order by job_id) from songmatch.backfill_status"
check "embeddings" "${N}" "$(embeddings_count)"
check "inferences (every track once)" "${N}" "$(inferences)"
check_sql "hits in the new job" "${DONE}" "select songmatch.stat('embedding_hits')::bigint"

# errors
err() { "${PSQL}" "$(dsn)" -X -q -At -c "\\set VERBOSITY sqlstate" -c "$1" 2>&1 | tail -1; }
check "unknown job type" "ERROR:  22023" "$(err "call songmatch.backfill('nope')")"
check "batch_size 0" "ERROR:  22023" "$(err "call songmatch.backfill('genres', batch_size => 0)")"
check "negative max_items" "ERROR:  22023" "$(err "call songmatch.backfill('genres', max_items => -1)")"
check "CALL inside a transaction block" "ERROR:  2D000" \
    "$("${PSQL}" "$(dsn)" -X -q -At -c "\\set VERBOSITY sqlstate" -c "begin" -c "call songmatch.backfill('genres')" 2>&1 | tail -1)"
check_sql "no genres job was left behind" "0" "select count(*) from songmatch.analysis_jobs where job_type = 'genres'"

# purge: done items of finished jobs go, job rows stay
check_sql "purge" "$((DONE + N))" "select songmatch.backfill_purge('0 seconds')"
check_sql "items left" "$((N - DONE))" "select count(*) from songmatch.backfill_items"
check_sql "jobs left" "2" "select count(*) from songmatch.analysis_jobs"
pass
