#!/usr/bin/env bash
# Three concurrent runners: the three CALLs join one job and split its items (FOR UPDATE SKIP
# LOCKED): every track is embedded exactly once (inference counter = tracks), all are covered.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=300

setup_db "${N}"
sql "select songmatch.stats_reset()" >/dev/null

for r in 1 2 3; do
    sql_log "call songmatch.backfill('embeddings', batch_size => 10)" "${WORK}/run${r}.log" "bf_runner_${r}" &
    BG_PIDS+=($!)
done
for p in "${BG_PIDS[@]}"; do
    wait "${p}" || fail "a runner failed: $(cat "${WORK}"/run*.log | grep -v NOTICE | head -5)"
done
BG_PIDS=()

TOTAL=0
BUSY=0
for r in 1 2 3; do
    n=$(sed -n 's/.*this call processed \([0-9]*\) in.*/\1/p' "${WORK}/run${r}.log")
    [[ -n "${n}" ]] || fail "runner ${r} printed no final line: $(tail -2 "${WORK}/run${r}.log")"
    say "runner ${r} processed ${n}"
    TOTAL=$((TOTAL + n))
    ((n > 0)) && BUSY=$((BUSY + 1))
done
check "items processed by the three runners together" "${N}" "${TOTAL}"
((BUSY >= 2)) || fail "the work was not split (only ${BUSY} runner(s) processed items)"
check "runners that found the job already there" "2" "$(grep -l 'joining\|resuming' "${WORK}"/run*.log | wc -l)"
grep -q "done: ${N} item(s), ${N} done, 0 failed" "${WORK}"/run*.log || fail "no runner reported the job done"

check "embeddings" "${N}" "$(embeddings_count)"
check "duplicate embedding keys" "0" "$(embeddings_dups)"
check "inference counter" "${N}" "$(inferences)"
check_sql "embedding hits (no item seen twice)" "0" "select songmatch.stat('embedding_hits')::bigint"
check_sql "jobs" "1" "select count(*) from songmatch.analysis_jobs"
check_sql "job" "done ${N} 0 0" "select status || ' ' || done || ' ' || failed || ' ' || runners from songmatch.backfill_status"
check_sql "every item processed once" "${N} 1 1" "select count(*) || ' ' || min(attempts) || ' ' || max(attempts) from songmatch.backfill_items where status = 'done'"
check_sql "tracks without an embedding" "0" \
    "select count(*) from songmatch.tracks t where not exists (select 1 from songmatch.track_embeddings e where e.track_id = t.id)"
pass
