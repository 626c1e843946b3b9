"""tests/vectors/README.md's check: the committed vectors are what generate.py computes
with PyNaCl, independently of our code. This venv has PyNaCl already (cobo-waas2 depends
on it), in place of the README's /tmp/vec; the command is the README's second line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_vectors_are_what_generate_py_computes() -> None:
    readme = (REPO / "tests" / "vectors" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert block, "no sh block in tests/vectors/README.md"
    setup, check = block.group(1).strip().splitlines()
    assert setup.endswith("/tmp/vec/bin/pip install pynacl && /tmp/vec/bin/python tests/vectors/generate.py")
    assert check == "/tmp/vec/bin/python tests/vectors/generate.py --check"
    import nacl  # noqa: F401  (what the README's venv installs)

    result = subprocess.run(
        [sys.executable, "tests/vectors/generate.py", "--check"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
