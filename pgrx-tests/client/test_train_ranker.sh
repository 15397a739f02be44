#!/usr/bin/env bash
# train_ranker (models/ranker/train_ranker.py), the DBA procedure that fits a learned ranker on the
# database's own playlists: on a generated catalogue it trains, evaluates the candidate bundle
# against the active one on the test half, and (a) refuses when the candidate does not beat the
# active bundle by the required margin: nothing registered, nothing left installed; (b) registers
# and activates it when it does, after which match_playlist runs the new ranker.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY="${REPO_ROOT}/target/venv-ranker/bin/python"
[[ -x "${PY}" ]] || skip "no ${PY} (make ranker-venv)"

setup_db 600 30
# a model directory of this test's own: the installed models, and what train_ranker writes
MODELS="${WORK}/models"
private_model_dir "${MODELS}"
sql_admin "alter database ${DB} set songmatch.model_dir = '${MODELS}'" >/dev/null
sql "select songmatch.register_bundle('default', true)" >/dev/null
sql "select count(*) from songmatch.embed_tracks(array(select id from songmatch.tracks))" >/dev/null
ACTIVE=$(sql "select bundle_hash from songmatch.model_bundles where is_active")

field() { python3 -c 'import json, sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }

# (a) a margin no candidate can reach: refused, nothing changes
"${PY}" "${REPO_ROOT}/models/ranker/train_ranker.py" --dsn "$(dsn)" --name app-ranker --min-gain 1 \
    >"${WORK}/refuse.json" 2>"${WORK}/refuse.log" || fail "train_ranker: $(tail -5 "${WORK}/refuse.log")"
say "$(tail -1 "${WORK}/refuse.log")"
check "refused" "False" "$(field registered <"${WORK}/refuse.json")"
check_sql "the active bundle is unchanged" "${ACTIVE}" "select bundle_hash from songmatch.model_bundles where is_active"
check_sql "no bundle was registered" "0" "select count(*) from songmatch.model_bundles where name = 'app-ranker'"
LEFT_MODELS=$(find "${MODELS}" -maxdepth 1 -name 'ranker-*' | wc -l)
LEFT_BUNDLES=$(find "${MODELS}/bundles" -name 'app-ranker.json' | wc -l)
check "nothing left installed (models, bundle files)" "0 0" "${LEFT_MODELS} ${LEFT_BUNDLES}"

# (b) the default margin (any improvement): on this catalogue a ranker fitted to its own playlists
# beats the shipped one (trained on real Spotify playlists) by far, so it is registered and activated
"${PY}" "${REPO_ROOT}/models/ranker/train_ranker.py" --dsn "$(dsn)" --name app-ranker \
    >"${WORK}/accept.json" 2>"${WORK}/accept.log" || fail "train_ranker: $(tail -5 "${WORK}/accept.log")"
say "$(tail -1 "${WORK}/accept.log")"
check "registered" "True" "$(field registered <"${WORK}/accept.json")"
python3 -c 'import json, sys; r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); sys.exit(0 if r["gain"] > 0 else 1)' \
    "${WORK}/accept.json" || fail "registered without a gain: $(cat "${WORK}/accept.json")"
MODEL=$(field model <"${WORK}/accept.json")
[[ "${MODEL}" =~ ^ranker-[0-9a-f]{12}$ ]] || fail "model id ${MODEL}"
check_sql "the active bundle is the new one" "app-ranker ${MODEL}" \
    "select name || ' ' || ranker_model from songmatch.model_bundles where is_active"
check "its files are installed" "yes" "$([[ -f "${MODELS}/${MODEL}/ranker.onnx" && -f "${MODELS}/bundles/app-ranker.json" ]] && echo yes)"
check_sql "match_playlist runs the new ranker" "${MODEL}" \
    "select distinct m.components -> 'ranker' ->> 'model' from songmatch.match_playlist(2, top_k => 5) m"
say "active NDCG@10 $(field active_ndcg <"${WORK}/accept.json"), candidate $(field candidate_ndcg <"${WORK}/accept.json") on the test half"
pass
