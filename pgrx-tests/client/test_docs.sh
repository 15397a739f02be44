#!/usr/bin/env bash
# The documentation against the installed extension:
#   - docs/reference.md has one `### songmatch.<name>` heading for every function, procedure and
#     view of schema songmatch that an API role (grant_access) or a management role
#     (grant_management) may call or read, and none for a name that does not exist;
#   - docs/settings.md has a `| \`songmatch.<name>\` |` row for every songmatch.* setting of
#     pg_settings, and none for a setting that does not exist;
#   - README.md and docs/*.md contain no build-history phrases ("later builds", "newest builds",
#     "latest builds", also with a version between the words, "before: "): history belongs in
#     CHANGELOG.md;
#   - README.md has at most 350 lines;
#   - the relative links of README.md and docs/*.md point to files that exist;
#   - every "```sql tour" block of README.md runs (psql -v ON_ERROR_STOP=1, as superuser, in order)
#     in a database loaded as `make demo` loads it (create extension songmatch cascade, then
#     sql/demo/catalogue.sql).
# The database is the test's own (the demo catalogue, not the generated one of setup_db).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

README="${REPO_ROOT}/README.md"
DOCS="${REPO_ROOT}/docs"
[[ -f "${README}" ]] || fail "no ${README}"
[[ -f "${DOCS}/reference.md" ]] || fail "no docs/reference.md"
[[ -f "${DOCS}/settings.md" ]] || fail "no docs/settings.md"
MDS=("${README}" "${DOCS}"/*.md)

# --- static checks (no database) --------------------------------------------------------------
lines=$(wc -l <"${README}")
((lines <= 350)) || fail "README.md has ${lines} lines (at most 350)"
say "ok   README.md has ${lines} lines (<= 350)"

history_re='(later|newest|latest)[[:space:]]+([0-9]+\.[0-9]+\.[0-9]+[[:space:]]+)?builds|before: '
if hits=$(grep -inE "${history_re}" "${MDS[@]}"); then
    fail "build-history phrases (they belong in CHANGELOG.md):
${hits}"
fi
say "ok   no build-history phrases in README.md and docs/*.md"

broken=()
for md in "${MDS[@]}"; do
    dir=$(dirname "${md}")
    while IFS= read -r target; do
        target="${target%%#*}"
        [[ -n "${target}" ]] || continue
        [[ -e "${dir}/${target}" ]] || broken+=("${md#"${REPO_ROOT}"/}: ${target}")
    done < <(grep -oE '\]\([^)[:space:]]+\)' "${md}" | sed -E 's/^\]\(//; s/\)$//' | grep -vE '^(https?:|mailto:|#)' || true)
done
((${#broken[@]} == 0)) || fail "links to files that do not exist: ${broken[*]}"
say "ok   every relative link of README.md and docs/*.md resolves"

# the tour: every "```sql tour" block of README.md, in order, into its own file
TOUR="${WORK}/tour"
mkdir -p "${TOUR}"
awk -v dir="${TOUR}" '
    /^```sql tour[[:space:]]*$/ { if (inb) { print "nested tour block at line " NR > "/dev/stderr"; exit 2 }
                                   n++; f = sprintf("%s/%02d.sql", dir, n); inb = 1; printf "" > f; next }
    inb && /^```[[:space:]]*$/  { inb = 0; close(f); next }
    inb                         { print > f }
    END                         { if (inb) { print "unterminated tour block" > "/dev/stderr"; exit 2 } }
' "${README}" || fail "README.md: the sql tour blocks cannot be read"
mapfile -t blocks < <(find "${TOUR}" -name '*.sql' | LC_ALL=C sort)
((${#blocks[@]} > 0)) || fail "README.md has no \`\`\`sql tour block"
say "ok   README.md has ${#blocks[@]} sql tour blocks"

# --- the database: as `make demo` loads it ------------------------------------------------------
sql_admin "drop database if exists ${DB} with (force)" >/dev/null
create_test_db "${DB}"
sql "set client_min_messages = warning; create extension ${SONGMATCH_TEST_EXTENSION:-songmatch} cascade" >/dev/null
"${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=1 -f "${REPO_ROOT}/sql/demo/catalogue.sql" >/dev/null
check_sql "demo catalogue loaded (tracks)" "106" "select count(*) from songmatch.tracks"

# the roles of the Supabase contract, as test_security.sh / test_upgrade.sh make them
api_roles
sql "select songmatch.grant_access('authenticated'), songmatch.grant_management('service_role')" >/dev/null

# --- docs/reference.md against the catalog -------------------------------------------------------
sql "select distinct p.proname from pg_proc p
      where p.pronamespace = 'songmatch'::regnamespace
        and (has_function_privilege('authenticated', p.oid, 'EXECUTE') or has_function_privilege('service_role', p.oid, 'EXECUTE'))
     union
     select c.relname from pg_class c
      where c.relnamespace = 'songmatch'::regnamespace and c.relkind in ('v', 'm')
        and (has_table_privilege('authenticated', c.oid, 'SELECT') or has_table_privilege('service_role', c.oid, 'SELECT'))" \
    | LC_ALL=C sort -u >"${WORK}/callable.txt"
sql_failed_check "the callable functions and views"
ncallable=$(wc -l <"${WORK}/callable.txt")
((ncallable > 50)) || fail "only ${ncallable} callable functions and views found: did grant_access/grant_management run?"
grep -oE '^### songmatch\.[a-z_0-9]+' "${DOCS}/reference.md" | sed 's/^### songmatch\.//' | LC_ALL=C sort >"${WORK}/documented_all.txt"
dups=$(uniq -d "${WORK}/documented_all.txt" | tr '\n' ' ')
[[ -z "${dups}" ]] || fail "docs/reference.md has more than one heading for: ${dups}"
LC_ALL=C sort -u "${WORK}/documented_all.txt" >"${WORK}/documented.txt"
missing=$(LC_ALL=C comm -23 "${WORK}/callable.txt" "${WORK}/documented.txt" | tr '\n' ' ')
extra=$(LC_ALL=C comm -13 "${WORK}/callable.txt" "${WORK}/documented.txt" | tr '\n' ' ')
[[ -z "${missing}" ]] || fail "docs/reference.md lacks a '### songmatch.<name>' heading for: ${missing}"
[[ -z "${extra}" ]] || fail "docs/reference.md documents what API and management roles cannot call or that does not exist: ${extra}"
say "ok   docs/reference.md documents exactly the ${ncallable} callable functions, procedures and views"

# --- docs/settings.md against pg_settings (the library loaded first, so every setting is defined)
sql "select songmatch.versions() is not null; select name from pg_settings where name like 'songmatch.%'" \
    | grep -v '^t$' | LC_ALL=C sort -u >"${WORK}/settings.txt"
sql_failed_check "the songmatch settings"
nsettings=$(wc -l <"${WORK}/settings.txt")
((nsettings > 10)) || fail "only ${nsettings} songmatch.* settings in pg_settings"
grep -oE '^\| `songmatch\.[a-z_0-9]+`' "${DOCS}/settings.md" | sed -E 's/^\| `//; s/`$//' | LC_ALL=C sort -u >"${WORK}/settings_documented.txt"
missing=$(LC_ALL=C comm -23 "${WORK}/settings.txt" "${WORK}/settings_documented.txt" | tr '\n' ' ')
extra=$(LC_ALL=C comm -13 "${WORK}/settings.txt" "${WORK}/settings_documented.txt" | tr '\n' ' ')
[[ -z "${missing}" ]] || fail "docs/settings.md lacks a '| \`songmatch.<name>\` |' row for: ${missing}"
[[ -z "${extra}" ]] || fail "docs/settings.md documents settings that do not exist: ${extra}"
say "ok   docs/settings.md documents exactly the ${nsettings} songmatch.* settings"

# --- the README's SQL tour, in order, on the demo database ---------------------------------------
for b in "${blocks[@]}"; do
    n=$(basename "${b}" .sql)
    first=$(grep -m1 -v '^[[:space:]]*$' "${b}" || true)
    if ! "${PSQL}" "$(dsn)" -X -q -v ON_ERROR_STOP=1 -f "${b}" >"${WORK}/tour_${n}.out" 2>&1; then
        fail "README.md sql tour block ${n} (${first:0:80}) failed: $(tail -5 "${WORK}/tour_${n}.out")"
    fi
    say "ok   tour block ${n}: ${first:0:70}"
done
pass
