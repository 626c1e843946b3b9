#!/usr/bin/env python3
"""Fails when a README or guide (any *.md) has a code block that no test claims.

The line right before each fenced block must be one of:

    <!-- run by: PATH::NAME[; PATH::NAME ...] -->
        a test (or test script) that runs the block, or checks that it is a file or command
        a test runs; PATH must exist and contain NAME (a test's name, a command).
    <!-- shown only: output|layout -->
        allowed only on a `text` block: printed output, or a directory layout (whose
        `dir/` entries must exist).

Indented code blocks are refused: fence them, so they are seen here.

    python3 scripts/check-readme-snippets.py [ROOT]
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

# The documents are check-readme-links.py's own, so that the two checks read the same files.
_spec = importlib.util.spec_from_file_location("check_readme_links", Path(__file__).with_name("check-readme-links.py"))
assert _spec is not None and _spec.loader is not None
_links = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_links)
documents = _links.documents

FENCE = re.compile(r"^(```+|~~~+)\s*([^\s`]*)")
RUN_BY = re.compile(r"^<!-- run by: (.+?) -->$")
SHOWN_ONLY = re.compile(r"^<!-- shown only: (output|layout) -->$")


def blocks(text: str) -> list[tuple[int, str, str, list[str]]]:
    """(line number, info string, the line before, body lines) of each fenced block;
    an indented code block comes back with the info string `indented`."""
    lines = text.split("\n")
    found, i, in_list = [], 0, False
    while i < len(lines):
        line = lines[i]
        opened = FENCE.match(line)
        if opened:
            fence, end = opened.group(1), i + 1
            while end < len(lines) and not lines[end].startswith(fence):
                end += 1
            found.append((i + 1, opened.group(2), lines[i - 1].strip() if i else "", lines[i + 1:end]))
            i, in_list = end + 1, False
            continue
        if re.match(r"^\s*([-*+]|\d+\.)\s", line):
            in_list = True
        elif not line.strip():
            pass
        elif not line.startswith(" "):
            in_list = False
        # Four spaces after a blank line, outside a list item: an indented code block.
        if line.startswith("    ") and line.strip() and i and not lines[i - 1].strip() and not in_list:
            found.append((i + 1, "indented", "", [line]))
        i += 1
    return found


def problems(root: Path) -> tuple[int, list[str]]:
    out, count = [], 0
    for doc in documents(root):
        name = doc.relative_to(root).as_posix()
        for line, info, before, body in blocks(doc.read_text(encoding="utf-8")):
            count += 1
            where = f"{name}:{line}"
            if info == "indented":
                out.append(f"{where}: an indented code block; fence it and say what runs it")
                continue
            claimed = RUN_BY.match(before)
            shown = SHOWN_ONLY.match(before)
            if shown:
                if info != "text":
                    out.append(f"{where}: a ```{info} block is code: it needs <!-- run by: … -->")
                elif shown.group(1) == "layout":
                    for entry in re.findall(r"^(\S+/)\s", "\n".join(body), re.M):
                        if not (root / entry).is_dir():
                            out.append(f"{where}: the layout names {entry}, which does not exist")
                continue
            if not claimed:
                out.append(f"{where}: no <!-- run by: PATH::NAME --> (or, for text, <!-- shown only: … -->) before the block")
                continue
            for claim in claimed.group(1).split("; "):
                path, sep, test = claim.partition("::")
                if not sep or not test:
                    out.append(f"{where}: {claim!r} is not PATH::NAME")
                elif not (root / path).is_file():
                    out.append(f"{where}: {path} does not exist")
                elif test not in (root / path).read_text(encoding="utf-8"):
                    out.append(f"{where}: {path} has no {test!r}")
    return count, out


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    count, found = problems(root)
    for problem in found:
        print(f"check-readme-snippets: {problem}", file=sys.stderr)
    print(f"check-readme-snippets: {count} code blocks in {len(documents(root))} documents, {len(found)} unclaimed or broken")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
