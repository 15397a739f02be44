#!/usr/bin/env bash
# Poison items: a track whose analysis has "moods": [1, 2] cannot be turned into a document
# (the extractor raises a data error): it is recorded as failed with its error, every other
# track succeeds; after the analysis is fixed, retry_failed retries exactly that item in the
# same job. Same for a playlist whose analysis is malformed (profiles).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=300
BAD=150
ERR='analysis.moods[0] must be a string, got number'

setup_db "${N}"
sql "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{moods}', '[1, 2]') where track_id = ${BAD}" >/dev/null
sql "select songmatch.stats_reset()" >/dev/null

sql_log "call songmatch.backfill('embeddings', batch_size => 32)" "${WORK}/run1.log" || fail "backfill failed: $(tail -5 "${WORK}/run1.log")"
grep -q "done: ${N} item(s), $((N - 1)) done, 1 failed" "${WORK}/run1.log" || fail "final notice: $(tail -2 "${WORK}/run1.log")"
check_sql "job" "done $((N - 1)) 1" "select status || ' ' || done || ' ' || failed from songmatch.backfill_status"
check_sql "the failed item and its error" "${BAD}|${ERR}" \
    "select item_id || '|' || error from songmatch.backfill_items where status = 'failed'"
check_sql "last error in backfill_status" "${BAD}|${ERR}" "select last_error_item || '|' || last_error from songmatch.backfill_status"
check_sql "errors recorded on the job" "[{\"kind\": \"embedding\", \"error\": \"${ERR}\", \"item_id\": ${BAD}}]" \
    "select jsonb_path_query_array(errors, '\$[*] ? (@.item_id > 0)') #- '{0,at}' from songmatch.analysis_jobs"
check "embeddings" "$((N - 1))" "$(embeddings_count)"
check "inference counter" "$((N - 1))" "$(inferences)"
check_sql "the poison track has no embedding" "0" "select count(*) from songmatch.track_embeddings where track_id = ${BAD}"

# fix it, retry the failed items of the same job
sql "update songmatch.track_analyses set analysis = jsonb_set(analysis, '{moods}', '[\"calm\", \"dark\"]') where track_id = ${BAD}" >/dev/null
sql_log "call songmatch.backfill('embeddings', retry_failed => true)" "${WORK}/run2.log" || fail "retry failed: $(tail -5 "${WORK}/run2.log")"
grep -q "1 failed item(s) reset to pending" "${WORK}/run2.log" || fail "no reset notice: $(head -3 "${WORK}/run2.log")"
check_sql "jobs (the retry reopened the job)" "1" "select count(*) from songmatch.analysis_jobs"
check_sql "job" "done ${N} 0 100.0" "select status || ' ' || done || ' ' || failed || ' ' || percent from songmatch.backfill_status"
check_sql "the retried item" "done 2 " "select status || ' ' || attempts || ' ' || coalesce(error, '') from songmatch.backfill_items where item_id = ${BAD}"
check "embeddings" "${N}" "$(embeddings_count)"
check "inference counter (+1: only the retried item)" "${N}" "$(inferences)"
check_sql "the fixed track's embedding is current" "t" \
    "select content_hash = (select document_hash from songmatch.track_content where track_id = ${BAD}) from songmatch.track_embeddings where track_id = ${BAD}"

# a retry with nothing failed starts nothing
sql_log "call songmatch.backfill('embeddings', retry_failed => true)" "${WORK}/run3.log" || fail "$(tail -3 "${WORK}/run3.log")"
check_sql "a retry without failures starts a new (all-hit) job" "2 0" \
    "select count(*) || ' ' || (select songmatch.stat('inferences:all-minilm-l6-v2-int8')::bigint - ${N}) from songmatch.analysis_jobs"

# profiles: playlist 4's analysis is malformed; the 11 others get their profile
sql "update songmatch.playlist_analyses set analysis = jsonb_set(analysis, '{moods}', '{\"x\": 1}') where playlist_id = 4" >/dev/null
sql_log "call songmatch.backfill('profiles', batch_size => 5)" "${WORK}/run4.log" || fail "profiles failed: $(tail -5 "${WORK}/run4.log")"
check_sql "profiles job" "done 11 1" "select status || ' ' || done || ' ' || failed from songmatch.backfill_status where job_type = 'profiles'"
check_sql "profiles stored" "11" "select count(*) from songmatch.playlist_profiles"
FAILED_PROFILE=$(sql "select item_id || '|' || error from songmatch.backfill_items i join songmatch.analysis_jobs j on j.id = i.job_id where j.job_type = 'profiles' and i.status = 'failed'")
say "failed profile: ${FAILED_PROFILE}"
[[ "${FAILED_PROFILE}" == 4\|*moods*"(SQLSTATE 22000)" ]] || fail "failed profile item: ${FAILED_PROFILE}"
pass
