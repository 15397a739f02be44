#!/usr/bin/env bash
# make package PG_MAJOR=NN: songmatch's packages for one PostgreSQL major, under target/package/:
#   postgresql-NN-songmatch_<ver>_amd64.deb     Debian/PGDG layout (/usr/lib/postgresql/NN/lib,
#                                               /usr/share/postgresql/NN)
#   postgresql-NN-songmatch_<ver>_amd64.tar.gz  the same tree with install.sh, for other layouts
#                                               (the Supabase image's NIX_PGLIBDIR)
# Both hold: songmatch.so; libonnxruntime (pinned, from the PyPI wheel) with the C++ runtime it and
# songmatch need beyond glibc (libstdc++, libgcc_s), found through the libraries' own RUNPATH
# ($ORIGIN); the control file, the install script, the upgrade chain and the frozen releases'
# install scripts; the default model bundle. The .deb is the tarball's tree installed by its own
# install.sh, so the two cannot differ. packaging/check-elf.sh must pass on the tree.
# Env (the Makefile sets them): PG_MAJOR, PG_CONFIG, PGRX_FEATURES, CARGO.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
# shellcheck source=../scripts/pg-env.sh
source scripts/pg-env.sh
CARGO="${CARGO:-cargo}"
read -r -a FEATURES <<<"${PGRX_FEATURES:-}"
log() { printf '==> %s\n' "$*"; }
die() { printf 'package: ERROR: %s\n' "$*" >&2; exit 1; }

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
NAME="postgresql-${PG_MAJOR}-songmatch"
BASE="${NAME}_${VERSION}_amd64"
OUT="${ROOT}/target/package"
WORK="${OUT}/work-pg${PG_MAJOR}"
TREE="${WORK}/${BASE}"
server_major="$("${PG_CONFIG}" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
[[ "${server_major}" == "${PG_MAJOR}" ]] || die "${PG_CONFIG} is PostgreSQL ${server_major}, not ${PG_MAJOR}"
for t in patchelf readelf objdump dpkg-deb; do command -v "${t}" >/dev/null || die "${t} missing (make setup)"; done
[[ -f target/models/bundles/default.json ]] || die "target/models has no default bundle (make models)"

rm -rf "${WORK}" && mkdir -p "${WORK}"
log "cargo pgrx package (PostgreSQL ${PG_MAJOR}, ${PG_CONFIG})"
"${CARGO}" pgrx package --pg-config "${PG_CONFIG}" "${FEATURES[@]}" --out-dir "${WORK}/pgrx" >"${WORK}/pgrx.log" 2>&1 \
    || { tail -30 "${WORK}/pgrx.log" >&2; die "cargo pgrx package failed"; }
PKGLIB="${WORK}/pgrx$("${PG_CONFIG}" --pkglibdir)"
SHARE="${WORK}/pgrx$("${PG_CONFIG}" --sharedir)"
[[ -f "${PKGLIB}/songmatch.so" && -f "${SHARE}/extension/songmatch--${VERSION}.sql" ]] \
    || die "cargo pgrx package did not write songmatch.so and songmatch--${VERSION}.sql under ${WORK}/pgrx"

L="${TREE}/pkglibdir" S="${TREE}/sharedir"
mkdir -p "${L}/songmatch" "${S}/extension" "${S}/songmatch"
install -m 0755 "${PKGLIB}/songmatch.so" "${L}/songmatch.so"
install -m 0644 "${SHARE}/extension/songmatch.control" "${SHARE}/extension/songmatch--${VERSION}.sql" "${S}/extension/"
install -m 0644 sql/songmatch--*--*.sql sql/releases/songmatch--*.sql "${S}/extension/"
# libonnxruntime: the pinned wheel's library (sha256-checked by the fetch script)
bash scripts/fetch-onnxruntime.sh "${L}/songmatch" >/dev/null
# the C++ runtime libonnxruntime needs, and libgcc_s (songmatch.so's unwinder): this system's
for lib in libstdc++.so.6 libgcc_s.so.1; do
    src="$(gcc -print-file-name="${lib}")"
    [[ "${src}" == /* && -e "${src}" ]] || die "cannot find ${lib} (gcc -print-file-name)"
    install -m 0644 "$(readlink -f "${src}")" "${L}/songmatch/${lib}"
done
# run-time search: songmatch.so looks in songmatch/, the carried libraries beside themselves
patchelf --set-rpath '$ORIGIN/songmatch' "${L}/songmatch.so"
for f in "${L}"/songmatch/libonnxruntime.so.*.*.* "${L}/songmatch/libstdc++.so.6" "${L}/songmatch/libgcc_s.so.1"; do
    patchelf --set-rpath '$ORIGIN' "${f}"
done
mkdir -p "${S}/songmatch/models" && cp -r target/models/. "${S}/songmatch/models/"
find "${S}/songmatch" -type d -exec chmod 0755 {} + && find "${S}/songmatch" -type f -exec chmod 0644 {} +
install -m 0755 packaging/install.sh "${TREE}/install.sh"
# the Docker recipes and their one RUN script, beside the packages (their build context)
mkdir -p "${OUT}" && install -m 0644 packaging/docker/*.Dockerfile "${OUT}/"
install -m 0755 packaging/docker/install-in-image.sh "${OUT}/"

bash packaging/check-elf.sh "${TREE}"

# MANIFEST: f PATH SHA256 | l PATH TARGET (install.sh installs and removes exactly these)
{
    echo "# songmatch ${VERSION}"
    echo "# postgresql ${PG_MAJOR}"
    (cd "${TREE}" && find pkglibdir sharedir \( -type f -o -type l \) | LC_ALL=C sort | while read -r p; do
        if [[ -L "${p}" ]]; then echo "l ${p} $(readlink "${p}")"; else echo "f ${p} $(sha256sum "${p}" | cut -d' ' -f1)"; fi
    done)
} >"${TREE}/MANIFEST"

mkdir -p "${OUT}"
tar -C "${WORK}" --owner=0 --group=0 --sort=name -czf "${OUT}/${BASE}.tar.gz" "${BASE}"

# the .deb: the tree installed by its own install.sh into the Debian layout
R="${WORK}/deb"
mkdir -p "${R}/DEBIAN"
sh "${TREE}/install.sh" --pkglibdir "${R}/usr/lib/postgresql/${PG_MAJOR}/lib" --sharedir "${R}/usr/share/postgresql/${PG_MAJOR}" >/dev/null
mkdir -p "${R}/usr/share/doc/${NAME}"
printf 'songmatch %s for PostgreSQL %s. Licence: Apache-2.0. Models: see models/manifests in the source.\n' \
    "${VERSION}" "${PG_MAJOR}" >"${R}/usr/share/doc/${NAME}/README"
glibc_need="$(find "${TREE}" -type f -name '*.so*' -exec objdump -T {} + 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
cat >"${R}/DEBIAN/control" <<CONTROL
Package: ${NAME}
Version: ${VERSION}
Architecture: amd64
Maintainer: songmatch developers <songmatch@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "${R}" | cut -f1)
Depends: libc6 (>= ${glibc_need}), postgresql-${PG_MAJOR}
Recommends: postgresql-${PG_MAJOR}-pgvector (>= ${PGVECTOR_MIN})
Section: database
Priority: optional
Description: match songs to playlists inside PostgreSQL ${PG_MAJOR}
 songmatch embeds text with transformer models through ONNX Runtime, scores
 emotions, ranks candidates and caches match results in the database, with
 vectors in pgvector (CREATE EXTENSION songmatch CASCADE needs pgvector >= ${PGVECTOR_MIN}).
 Carries ONNX Runtime ${ONNXRUNTIME_VERSION}, the C++ runtime it needs, and the
 default model bundle. Preload it: shared_preload_libraries = 'songmatch'.
CONTROL
dpkg-deb --root-owner-group -Zxz --build "${R}" "${OUT}/${BASE}.deb" >/dev/null
log "wrote ${OUT}/${BASE}.deb ($(du -h "${OUT}/${BASE}.deb" | cut -f1)) and ${OUT}/${BASE}.tar.gz ($(du -h "${OUT}/${BASE}.tar.gz" | cut -f1))"
