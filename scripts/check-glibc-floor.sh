#!/usr/bin/env bash
# Fails unless every GLIBC_ symbol version that a shared library needs is at most the
# given floor: the oldest glibc the library loads on. The wheel and the jar promise
# manylinux2014 (glibc 2.17); a library linked against the build machine's glibc would
# silently need that glibc instead.
#
#   check-glibc-floor.sh <library.so> <floor, e.g. 2.17>
set -euo pipefail

lib=$1
floor=$2
[ -f "$lib" ] || { echo "check-glibc-floor: $lib is missing" >&2; exit 1; }

# The versions of the dynamic symbols it imports (objdump -T: "... GLIBC_2.14 memcpy").
highest=$(objdump -T "$lib" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -u -V | tail -n 1)
[ -n "$highest" ] || { echo "check-glibc-floor: $lib imports no GLIBC_ symbol; is it a glibc build?" >&2; exit 1; }
if [ "$(printf '%s\n%s\n' "$highest" "$floor" | sort -V | tail -n 1)" != "$floor" ]; then
    echo "check-glibc-floor: $lib needs glibc $highest, above the floor $floor:" >&2
    objdump -T "$lib" | grep -E "GLIBC_$highest([^0-9.]|$)" >&2 || true
    exit 1
fi
echo "check-glibc-floor: $(basename "$lib") needs at most GLIBC_$highest (floor $floor): ok"
