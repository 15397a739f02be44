#!/usr/bin/env bash
# Check a package tree (make package) for what its binaries need at run time:
#   packaging/check-elf.sh TREE
# Fails when a shared object in TREE
#   - needs a glibc symbol version newer than GLIBC_MAX (versions.env: Debian 12's glibc), or
#   - needs a shared library that is neither glibc's own nor carried in TREE, or
#   - resolves a carried library from anywhere but TREE (the run time search must go through the
#     library's own RUNPATH, $ORIGIN..., never the system's directories), or
#   - needs a libstdc++ symbol version (GLIBCXX_*) that the carried libstdc++ lacks.
# Uses readelf and objdump (binutils) and the system's dynamic loader in --list mode.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../scripts/versions.env
source "${SCRIPT_DIR}/../scripts/versions.env"
TREE="$(cd "${1:?usage: check-elf.sh TREE}" && pwd)"
# glibc's own libraries: every system has them, matching its libc
SYSTEM_LIBS=" libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 ld-linux-x86-64.so.2 "
LDSO=/lib64/ld-linux-x86-64.so.2
fail=0
bad() { echo "check-elf: FAIL $*" >&2; fail=1; }

mapfile -t elves < <(find "${TREE}" -type f -print0 | while IFS= read -r -d '' f; do
    [[ "$(head -c4 "${f}" | od -An -c | tr -d ' ')" == "177ELF" ]] && echo "${f}"; done | sort)
((${#elves[@]} > 0)) || bad "no shared objects in ${TREE}"
carried=" "
for f in "${elves[@]}"; do carried+="$(readelf -d "${f}" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p') "; done
stdcxx="$(printf '%s\n' "${elves[@]}" | grep '/libstdc++\.so' | head -1 || true)"
provided_cxx=""
[[ -z "${stdcxx}" ]] || provided_cxx="$(objdump -T "${stdcxx}" | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1)"

for f in "${elves[@]}"; do
    rel="${f#"${TREE}"/}"
    newest="$(objdump -T "${f}" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
    if [[ -n "${newest}" ]] && [[ "$(printf '%s\n%s\n' "${newest}" "${GLIBC_MAX}" | sort -V | tail -1)" != "${GLIBC_MAX}" ]]; then
        bad "${rel} needs glibc ${newest} (> ${GLIBC_MAX})"
    fi
    while read -r lib; do
        [[ -n "${lib}" ]] || continue
        if [[ "${SYSTEM_LIBS}" == *" ${lib} "* ]]; then continue; fi
        [[ "${carried}" == *" ${lib} "* ]] || { bad "${rel} needs ${lib}, which the package does not carry"; continue; }
        where="$(env -i "${LDSO}" --list "${f}" 2>/dev/null | awk -v l="${lib}" '$1 == l {print $3}')"
        case "${where}" in
            "${TREE}"/*) ;;
            *) bad "${rel}: ${lib} resolves to '${where:-nothing}', not to the package's copy (RUNPATH $(readelf -d "${f}" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p'))" ;;
        esac
    done < <(readelf -d "${f}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    need_cxx="$(objdump -T "${f}" | grep -o 'GLIBCXX_[0-9][0-9.]*' | sort -uV | tail -1 || true)"
    if [[ -n "${need_cxx}" && "${f}" != "${stdcxx}" ]] && [[ "$(printf '%s\n%s\n' "${need_cxx}" "${provided_cxx}" | sort -V | tail -1)" != "${provided_cxx}" ]]; then
        bad "${rel} needs ${need_cxx}; the carried libstdc++ provides up to ${provided_cxx:-nothing}"
    fi
    echo "check-elf: ${rel}: glibc <= ${newest:-none}$( [[ -z "${need_cxx}" ]] || echo ", ${need_cxx}")"
done
((fail == 0)) || { echo "check-elf: ${TREE} FAILED" >&2; exit 1; }
echo "check-elf: ${#elves[@]} shared objects need glibc <= ${GLIBC_MAX} and only libraries the package carries"
