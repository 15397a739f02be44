#!/usr/bin/env bash
# DROP EXTENSION and the catalogue: songmatch's tables hold the app's catalogue, so a DROP that
# would delete it (DROP EXTENSION songmatch, DROP SCHEMA songmatch, a CASCADE through pgvector's
# schema) is refused while it has rows (55000, with a hint), unless the session sets
# songmatch.allow_drop = on; an empty catalogue drops as usual; other DDL is untouched.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_db 20 2
err() { "${PSQL}" "$(dsn)" -X -q -At -c "\\set VERBOSITY sqlstate" -c "$1" 2>&1 | tail -1; }
msg() { "${PSQL}" "$(dsn)" -X -q -At -c "$1" 2>&1 | grep -m1 '^\(ERROR\|HINT\)' || true; }
VSCHEMA=$(sql "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'vector'")

check "DROP EXTENSION songmatch with a catalogue" "ERROR:  55000" "$(err "drop extension songmatch")"
check "DROP EXTENSION songmatch CASCADE with a catalogue" "ERROR:  55000" "$(err "drop extension songmatch cascade")"
check "DROP SCHEMA songmatch CASCADE" "ERROR:  55000" "$(err "drop schema songmatch cascade")"
check "DROP EXTENSION vector CASCADE (reaches songmatch)" "ERROR:  55000" "$(err "drop extension vector cascade")"
check "the message names the catalogue" \
    "ERROR:  DROP EXTENSION would delete songmatch's catalogue: its tables (tracks, playlists, likes, analyses, artifacts, match cache) belong to the extension" \
    "$(msg "drop extension songmatch")"
check_sql "the catalogue is still there" "20" "select count(*) from songmatch.tracks"
sql "create extension if not exists pg_trgm" >/dev/null
sql "drop extension pg_trgm" >/dev/null  # (an error here fails the test)
check_sql "another extension drops as usual" "0" "select count(*) from pg_extension where extname = 'pg_trgm'"
check_sql "pgvector (schema ${VSCHEMA}) is still there" "1" "select count(*) from pg_extension where extname = 'vector'"

# with songmatch.allow_drop the drop goes through (and takes the catalogue with it)
"${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=1 -c "set songmatch.allow_drop = on" -c "drop extension songmatch cascade" >/dev/null
check_sql "dropped with songmatch.allow_drop = on" "0" "select count(*) from pg_extension where extname = 'songmatch'"

# an empty catalogue drops without the setting
sql "set client_min_messages = warning; create extension songmatch" >/dev/null
sql "drop extension songmatch" >/dev/null
check_sql "an empty catalogue drops as usual" "0" "select count(*) from pg_extension where extname = 'songmatch'"
pass
