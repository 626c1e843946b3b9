#!/usr/bin/env python3
"""Fails when a README or guide links to a repository file, or a heading, that is not
there. Checks relative links only (`[text](path)`, `[text](path#anchor)`, `[text](#anchor)`);
anchors follow GitHub's rule: lower case, punctuation dropped, spaces to hyphens.

    python3 scripts/check-readme-links.py [ROOT]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
SKIP_DIRS = {"target", "node_modules", ".git"}


def documents(root: Path) -> list[Path]:
    return sorted(
        path for path in root.rglob("*.md")
        if not SKIP_DIRS & set(path.relative_to(root).parts)
    )


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        found.add(slug)
    return found


def broken_links(root: Path) -> list[str]:
    problems = []
    for doc in documents(root):
        text = FENCE.sub("", doc.read_text(encoding="utf-8"))
        for target in LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            linked = (doc.parent / path_part).resolve() if path_part else doc
            where = f"{doc.relative_to(root)}: {target}"
            if not linked.exists():
                problems.append(f"{where}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where}: no heading #{anchor}")
    return problems


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    problems = broken_links(root)
    for problem in problems:
        print(f"check-readme-links: {problem}", file=sys.stderr)
    print(f"check-readme-links: {len(documents(root))} documents, {len(problems)} broken links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
