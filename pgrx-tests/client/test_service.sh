#!/usr/bin/env bash
# The inference service (issue 12): the server preloads songmatch, so one model process serves
# every backend.
#  1. kill -9 of the model process while 4 connections stream single-text embed calls: no
#     connection is lost, every call succeeds or fails with 57P03 (the documented error), the
#     supervisor restarts the process, and calls succeed again;
#  2. a request queued behind a long one is cancelled (pg_cancel_backend), times out
#     (statement_timeout) and is terminated (pg_terminate_backend), each taking effect while the
#     long request still holds the model (an order of events, not a speed: the times are printed,
#     and make bench measures speed), and the service drops the abandoned work (the cancelled long
#     request ends with 57014, before its batch ends);
#  3. results equal the in-backend path (songmatch.inference = 'backend') bit for bit on this
#     machine, and a text's embedding does not depend on the batch it lands in.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_db 20 2
status() { sql "select songmatch.inference_status() #>> '{$1}'"; }
[[ "$(status preloaded)" == "true" ]] || skip "songmatch is not in shared_preload_libraries on this server"
check "mode" "service" "$(status mode)"
sql "select songmatch.embed('warm up')" >/dev/null
check "service running" "true" "$(status service,running)"
PID0="$(status service,pid)"
R0="$(status service,restarts)"
say "model process ${PID0}, restarts so far ${R0}"
PSQL_V() { "${PSQL}" "$(dsn) application_name=$1" -X -q -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose "${@:2}"; }

# --- 1. kill -9 during a stream of requests from 4 connections ------------------------------------
N=150
for c in 1 2 3 4; do
    for i in $(seq 1 ${N}); do echo "select 'ok', vector_dims(songmatch.embed('stream ${c} text ${i} ' || repeat('la ', ${i} % 40)));"; done \
        | PSQL_V "svc_stream_${c}" >"${WORK}/stream${c}.out" 2>"${WORK}/stream${c}.err" &
    BG_PIDS+=($!)
done
sleep 0.5
kill -9 "${PID0}"
T_KILL=$(date +%s%N)
# a call from another connection succeeds again (the time is printed; the deadline only stops a
# hang: it is far above any machine's restart time, not a speed bound)
DEADLINE=$((SECONDS + 120))
until sql_try "select songmatch.embed('after the kill') is not null" >/dev/null 2>&1; do
    ((SECONDS < DEADLINE)) || fail "no successful call within 120 s of the kill: the model process was not restarted"
    sleep 0.02
done
BACK_MS=$(( ($(date +%s%N) - T_KILL) / 1000000 ))
say "a call succeeded again ${BACK_MS} ms after kill -9 (printed, not asserted)"
sleep 0.3
PID1="$(status service,pid)"
kill -9 "${PID1}"   # a second kill, while the streams still run
for p in "${BG_PIDS[@]}"; do wait "${p}" || fail "a streaming connection failed (psql exit status $?)"; done
BG_PIDS=()
OK=0
ERRS=0
for c in 1 2 3 4; do
    n=$(grep -c '^ok|384$' "${WORK}/stream${c}.out" || true)
    e=$(grep -c '^ERROR' "${WORK}/stream${c}.err" || true)
    bad=$(grep '^ERROR' "${WORK}/stream${c}.err" | grep -v '^ERROR:  57P03: the songmatch inference service restarted while handling this request' || true)
    [[ -z "${bad}" ]] || fail "connection ${c}: an error other than the documented one: ${bad}"
    grep -qi 'server closed the connection\|connection to server was lost\|terminating connection' "${WORK}/stream${c}.err" && fail "connection ${c} was lost: $(head -3 "${WORK}/stream${c}.err")"
    check "connection ${c}: calls answered (ok + 57P03)" "${N}" "$((n + e))"
    OK=$((OK + n)); ERRS=$((ERRS + e))
done
say "${OK} calls succeeded, ${ERRS} failed with 57P03 (the retry hides most restarts)"
((OK >= 4 * N - 8)) || fail "too many failed calls: ${ERRS}"
PID2="$(status service,pid)"
[[ "${PID2}" != "${PID0}" && "${PID2}" != "${PID1}" ]] || fail "the model process was not replaced (${PID0} ${PID1} ${PID2})"
check "restarts counted" "$((R0 + 2))" "$(status service,restarts)"
sql "select songmatch.inference_status() #>> '{service,last_error}'" | grep -q "killed by signal 9" || fail "last_error does not name the kill"
check_sql "the database stayed up (no server restart)" "t" \
    "select pg_postmaster_start_time() < now() - interval '1 second'"

# --- 2. cancel, statement_timeout and terminate of a queued request ------------------------------
# a long request keeps the model busy; a short one from another session queues behind it (under
# other settings, so the two are not batched together)
LONG="select count(*) from songmatch.embed_batch(array(select repeat('a long document about rain and love ', 25) || g from generate_series(1, 1000) g))"
# measure what app_name [reference_app_name]: sends the signal, waits until the session is idle
# (or gone), and prints "<ms> <ended> <reference>": the time it took (printed by the caller, never
# bounded), whether the session ended (yes/no), and whether the reference session (the long
# request ahead of it) was still running at that moment (running/ended/none). The wait stops as
# soon as the reference ends: "the signal took effect before the long request ended" is an order of
# events that holds on any machine, where a bound in milliseconds would not.
measure() {
    sql "do \$\$
declare t0 timestamptz; p int; st text; ref text := nullif('${3:-}', ''); ref_st text;
begin
  select pid into p from pg_stat_activity where application_name = '$2' and datname = current_database();
  t0 := clock_timestamp();
  perform $1(p);
  loop
    perform pg_stat_clear_snapshot();
    select state into st from pg_stat_activity where pid = p;
    select state into ref_st from pg_stat_activity where application_name = ref and datname = current_database();
    exit when st is distinct from 'active';
    exit when ref is not null and ref_st is distinct from 'active';
    exit when clock_timestamp() - t0 > interval '10 minutes';  -- (a hang guard)
    perform pg_sleep(0.0005);
  end loop;
  raise notice 'measured=% % %', round((extract(epoch from clock_timestamp() - t0) * 1000)::numeric, 1),
    case when st is distinct from 'active' then 'yes' else 'no' end,
    case when ref is null then 'none' when ref_st = 'active' then 'running' else 'ended' end;
end \$\$" 2>&1 | sed -n 's/.*measured=\([0-9.]*\) \([a-z]*\) \([a-z]*\).*/\1 \2 \3/p'
}
# took_effect what app_name: the signal ended the queued session while the long request still ran
took_effect() {
    local m
    m="$(measure "$1" "$2" svc_long)"
    say "$1 of a queued request took effect in ${m%% *} ms (printed, not asserted)"
    check "$1 ended the queued request while the long one still held the model" "yes running" "${m#* }"
}
queued_session() {  # app_name [setting]: a short request queued behind the long one
    PSQL_V "$1" -c "${2:-select 1}" -c "select songmatch.embed('queued request')" >"${WORK}/$1.out" 2>&1 &
    BG_PIDS+=($!)
}
wait_active() {
    wait_for "$1 waiting" 10 "select count(*) = 1 from pg_stat_activity where application_name = '$1' and state = 'active' and query like '%embed(''queued%'"
}
# (max_batch_texts raised for it: a request of more texts than one run takes is bulk work, which
# the service interleaves with other sessions' requests; this one must hold the model, as a user's
# request does)
PSQL_V svc_long -c "set songmatch.max_batch_texts = 1000" -c "${LONG}" >"${WORK}/long.out" 2>&1 &
LONG_PID=$!
wait_for "the long request running" 10 "select count(*) = 1 from pg_stat_activity where application_name = 'svc_long' and state = 'active'"
sleep 0.2
queued_session svc_cancel
wait_active svc_cancel
sleep 0.1
depth="$(status service,queue_depth)"
((depth >= 1)) || fail "the short request is not queued (queue depth ${depth})"
took_effect pg_cancel_backend svc_cancel
wait "${BG_PIDS[-1]}" || true
grep -q "57014" "${WORK}/svc_cancel.out" || fail "the cancelled session did not get 57014: $(cat "${WORK}/svc_cancel.out")"

queued_session svc_terminate
wait_active svc_terminate
sleep 0.1
took_effect pg_terminate_backend svc_terminate

# statement_timeout: 57014 while the long request still holds the model (the queued statement
# was stopped by its timeout, not served late); psql's own timing is printed
PSQL_V svc_timeout -c "set statement_timeout = '0.3s'" -c '\timing on' -c "select songmatch.embed('queued request')" >"${WORK}/timeout.out" 2>&1 || true
grep -q "57014" "${WORK}/timeout.out" || fail "no statement timeout: $(cat "${WORK}/timeout.out")"
check_sql "statement_timeout struck while the long request still held the model" "1" \
    "select count(*) from pg_stat_activity where application_name = 'svc_long' and state = 'active'"
T="$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "${WORK}/timeout.out" | tail -1)"
say "statement_timeout of 0.3 s: the statement ended after ${T} ms (printed, not asserted)"
# the long request itself is cancelled: the service abandons its run at the next batch boundary
# (it would take a minute or more); the cancel ends it with 57014 rather than its count, so the
# cancel arrived before its batch ended. The next request is served (the time is printed).
MS="$(measure pg_cancel_backend svc_long)"
say "cancel of the running request took effect in ${MS%% *} ms (printed, not asserted)"
check "the cancel ended the running request" "yes" "$(cut -d' ' -f2 <<<"${MS}")"
wait "${LONG_PID}" || true
grep -q "57014" "${WORK}/long.out" || fail "the long request was not cancelled: $(cat "${WORK}/long.out")"
T0=$(date +%s%N)
sql "select songmatch.embed('after the abandoned run') is not null" >/dev/null
T="$(( ($(date +%s%N) - T0) / 1000000 ))"
say "the next request was served ${T} ms later (the abandoned run finishes at most its current model run; printed, not asserted)"
((  $(status service,dropped) >= 2 )) || fail "the service did not drop the abandoned requests (dropped $(status service,dropped))"
check "the service's queue is empty" "0" "$(status service,queue_depth)"

# --- 3. parity with the in-backend path, whatever the batch -------------------------------------------
check_sql "service = backend (embeddings of the catalogue's documents, bit for bit)" "t" "
create temp table svc as select t.id, songmatch.embed(songmatch.track_document(to_jsonb(t), a.analysis)) e
  from songmatch.tracks t join songmatch.track_analyses a on a.track_id = t.id;
set songmatch.inference = 'backend';
select bool_and(songmatch.embed(songmatch.track_document(to_jsonb(t), a.analysis)) = s.e)
  from songmatch.tracks t join songmatch.track_analyses a on a.track_id = t.id join svc s on s.id = t.id"
check_sql "a text's embedding does not depend on its batch (cosine >= 0.999999)" "t" "
with texts as (select g, repeat('word' || g || ' ', g) t from generate_series(1, 30) g),
     batch as (select ord, embedding from songmatch.embed_batch(array(select t from texts order by g)))
select bool_and(1 - (b.embedding <=> songmatch.embed(x.t)) >= 0.999999) from texts x join batch b on b.ord = x.g"
check_sql "mode 'service' on a preloaded server" "service" "set songmatch.inference = 'service'; select songmatch.inference_status()->>'mode'"
# the recent results (single flight): a text asked again is answered without a model run, with its
# run's values; songmatch.inference_reuse = off runs the model again, to the same values
check_sql "a text asked again: the same embedding" "t" "
create temp table once as select songmatch.embed('a text asked twice, number ' || pg_backend_pid()) e;
select bool_and(songmatch.embed('a text asked twice, number ' || pg_backend_pid()) = e) from once"
check_sql "inference_reuse off: the model runs again, the same embedding to batch rounding" "t" "
set songmatch.inference_reuse = off;
select bool_and(1 - (songmatch.embed('a text asked twice, number ' || pg_backend_pid()) <=> e) >= 0.999999) from (select songmatch.embed('a text asked twice, number ' || pg_backend_pid()) e) x"
pass
