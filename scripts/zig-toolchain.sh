#!/usr/bin/env bash
# Ensures a venv with zig (the `ziglang` package) and cargo-zigbuild, both from PyPI, and
# prints its bin directory. With zig as the linker, a library built on this machine
# links against glibc 2.17's symbol versions (manylinux2014) instead of the build
# machine's glibc. The venv is reused while the pins below are unchanged.
#
#   PATH="$(bash scripts/zig-toolchain.sh):$PATH" cargo zigbuild ...
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/target/zig-venv"
pins="ziglang==0.15.2 cargo-zigbuild==0.24.1"
python="${PYTHON:-python3}"

if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
    echo "zig-toolchain: venv $venv with $pins" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins </dev/null >&2
    echo "$pins" > "$venv/.pins"
fi
printf '%s\n' "$venv/bin"
