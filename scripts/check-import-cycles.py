#!/usr/bin/env python3
"""Fails if two Rust files of a crate import each other, directly or through others.

    check-import-cycles.py <crate src dir>...

An import is a `crate::` or `super::` path (resolved through the crate root's `pub use`
re-exports) or, in a module's own file, a `use` of one of its children. Test modules
(`#[cfg(test)] mod tests` at the end of a file) are left out.
"""

import os
import re
import sys


def modules(root: str) -> dict[str, str]:
    found = {}
    for directory, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(directory, name), root)[:-3]
            module = "" if rel in ("lib", "mod") else rel.removesuffix("/mod").replace("/", "::")
            text = open(os.path.join(directory, name), encoding="utf-8").read()
            found[module] = text.split("#[cfg(test)]\nmod tests")[0]
    return found


def graph(root: str) -> dict[str, set[str]]:
    mods = modules(root)
    reexports = {}
    for path, items in re.findall(r"pub use ([a-z_:]+)::\{([^}]*)\}", mods.get("", "")):
        for item in items.replace("\n", " ").split(","):
            if item.strip():
                reexports[item.strip()] = path
    for path, item in re.findall(r"pub use ([a-z_:]+)::([A-Za-z_]+);", mods.get("", "")):
        reexports[item] = path

    def resolve(parts: list[str]) -> str | None:
        if parts and parts[0] in reexports:
            parts = reexports[parts[0]].split("::")
        for end in range(len(parts), 0, -1):
            if "::".join(parts[:end]) in mods:
                return "::".join(parts[:end])
        return None

    edges = {}
    for module, text in mods.items():
        if module == "":
            continue
        own_dir = os.path.exists(os.path.join(root, module.replace("::", "/"), "mod.rs"))
        here = module.split("::")
        parent = here if own_dir else here[:-1]
        targets = set()
        for path in re.findall(r"crate::((?:[A-Za-z_]+::)*[A-Za-z_]+)", text):
            targets.add(resolve(path.split("::")))
        for group in re.findall(r"crate::\{([^}]*)\}", text):
            targets.update(resolve([item.strip().split("::")[0]]) for item in group.split(","))
        for path in re.findall(r"super::((?:[A-Za-z_]+::)*[A-Za-z_]+)", text):
            targets.add(resolve(parent + path.split("::")))
        for group in re.findall(r"super::\{([^}]*)\}", text):
            targets.update(resolve(parent + item.strip().split("::")) for item in group.split(","))
        if own_dir:
            for child in re.findall(r"(?m)^\s*(?:pub(?:\([a-z]+\))? )?use (?:self::)?([a-z_]+)::", text):
                targets.add(resolve(here + [child]))
        edges[module] = {target for target in targets if target and target != module}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in edges:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in edges:
        if node not in index:
            visit(node)
    return found


failed = False
for root in sys.argv[1:]:
    edges = graph(root)
    for component in cycles(edges):
        failed = True
        print(f"{root}: import cycle:", file=sys.stderr)
        for module in component:
            print(f"  {module} -> {sorted(set(component) & edges[module])}", file=sys.stderr)
    if not failed:
        print(f"{root}: {len(edges)} modules, no import cycle")
sys.exit(1 if failed else 0)
