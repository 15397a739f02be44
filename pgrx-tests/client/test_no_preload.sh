#!/usr/bin/env bash
# Without shared_preload_libraries (a server that was not restarted after installing songmatch):
# CREATE EXTENSION works, inference runs in the backend as before (mode 'backend', the same
# embedding as the service path), no background worker is started, and songmatch.inference =
# 'service' is a clear 57P03 error. Runs its own throw-away cluster (initdb) on a spare port.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# (a port below the ephemeral range, where a client connection may hold any port for a while;
# the next ones are tried if it is taken)
PORT="${SONGMATCH_NOPRELOAD_PORT:-25432}"
OS_USER="${PG_OS_USER:-postgres}"
as_pg() { if [[ "$(id -un)" == "${OS_USER}" ]]; then "$@"; else sudo -u "${OS_USER}" -- "$@"; fi; }
id "${OS_USER}" >/dev/null 2>&1 || skip "no OS user ${OS_USER}"
[[ -x "${PG_BINDIR}/initdb" ]] || skip "no initdb in ${PG_BINDIR}"
CL="$(mktemp -d /var/tmp/songmatch-nopreload.XXXXXX)"
chown "${OS_USER}:" "${CL}"
stop_cluster() {
    as_pg "${PG_BINDIR}/pg_ctl" -D "${CL}/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "${CL}"
}
trap 'stop_cluster; cleanup' EXIT
as_pg "${PG_BINDIR}/initdb" -D "${CL}/data" -U postgres --auth=trust >/dev/null 2>&1 || fail "initdb failed"
started=0
for try in 0 1 2 3 4 5 6 7; do
    if as_pg "${PG_BINDIR}/pg_ctl" -D "${CL}/data" -l "${CL}/log" -w -t 60 \
        -o "-p $((PORT + try)) -k ${CL} -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
        PORT=$((PORT + try)); started=1; break
    fi
    grep -q "Address already in use" "${CL}/log" || break
done
((started)) || fail "the cluster did not start: $(tail -5 "${CL}/log")"
Q_try() { "${PSQL}" "host=127.0.0.1 port=${PORT} user=postgres dbname=postgres" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$@" 2>&1; }
Q() { recorded Q_try "$@"; }  # (a failure is recorded: check and pass fail on it; lib.sh)
check "shared_preload_libraries" "" "$(Q -c "show shared_preload_libraries")"
check "create extension" "" "$(Q -c "set client_min_messages = warning" -c "create extension songmatch cascade")"
check "embedding dimensions" "384" "$(Q -c "select vector_dims(songmatch.embed('rainy day acoustic folk'))")"
check "mode" "backend false" "$(Q -c "select songmatch.inference_status() ->> 'mode', songmatch.inference_status() ->> 'preloaded'" | tr '|' ' ')"
check "no songmatch background workers" "0" "$(Q -c "select count(*) from pg_stat_activity where backend_type like 'songmatch%'")"
setup_db 5 1   # (a database on the main server, whose songmatch is preloaded: the service path)
check "the same embedding as the service path on the main server" "t" \
    "$(Q -c "select songmatch.embed('rainy day acoustic folk')::text = '$(sql "select songmatch.embed('rainy day acoustic folk')::text")'")"
err="$(Q_try -c "set songmatch.inference = 'service'" -c "select songmatch.embed('x')" || true)"
[[ "${err}" == *"57P03"*"the songmatch inference service is not running: songmatch is not in shared_preload_libraries"* ]] \
    || fail "mode 'service' without the service: ${err}"
say "ok   mode 'service' without preload is 57P03"

# cancel and statement_timeout reach inference in the backend (interrupts are checked between its
# model runs): a call over 4000 texts in runs of 8 ends with 57014 instead of completing, and the
# backend serves the next call
LONG="set songmatch.max_batch_size = 10000; set songmatch.max_batch_texts = 8;
      select count(*) from songmatch.embed_batch(array(select 'a long run of song number ' || g || ' about rain and roads' from generate_series(1, 4000) g))"
err="$(Q_try -c "set statement_timeout = '0.3s'" -c "${LONG}" || true)"
[[ "${err}" == *"57014"*"statement timeout"* ]] || fail "statement_timeout during backend inference: ${err:0:300}"
say "ok   statement_timeout stops inference in the backend (57014)"
"${PSQL}" "host=127.0.0.1 port=${PORT} user=postgres dbname=postgres application_name=np_long" -X -q -At -v VERBOSITY=verbose \
    -c "${LONG}" >"${WORK}/long.log" 2>&1 &
LONG_PID=$!
BG_PIDS+=("${LONG_PID}")
deadline=$((SECONDS + 120))  # (a hang guard, not a timing: the call has only to be seen running)
until [[ "$(Q_try -c "select count(*) from pg_stat_activity where application_name = 'np_long' and state = 'active' and query like '%embed_batch%'")" == "1" ]]; do
    ((SECONDS < deadline)) || fail "the long call never showed up as active"
    sleep 0.05
done
check "cancel sent" "t" "$(Q -c "select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'np_long'")"
if wait "${LONG_PID}"; then fail "the cancelled call completed: $(tail -2 "${WORK}/long.log")"; fi
grep -q "57014.*canceling statement due to user request" "${WORK}/long.log" || fail "cancel: $(tail -3 "${WORK}/long.log")"
say "ok   pg_cancel_backend stops inference in the backend (57014)"
check "the next call after the cancel" "384" "$(Q -c "select vector_dims(songmatch.embed('after the cancel'))")"
pass
