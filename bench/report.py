"""Merges the parts of `make bench` (every other target/bench/*.json: rust, python,
kotlin, kotlin-official, swift) into one table and target/bench/results.json. Standard library only.

Each cell: the median over the repetitions, [the quartiles]. Ratios are of medians:
ours / official (the official SDK of the same language) and binding / core (the same
operation in the Rust core alone, measured in the same run).

Usage: report.py --dir target/bench --out target/bench/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Optional

# (section, what, unit shown, our figure, official figure, core figure).
# Round trips and signing are in operations per second; access_token in ns per call.
ROWS = [
    ("Python", "import time", "ms", "python.import_time.ours", "python.import_time.official", None),
    ("Python", "memory added by the import (RSS)", "MB", "python.import_rss.ours", "python.import_rss.official", None),
    ("Python", "sign a request", "ops/s", "python.sign.ours", "python.sign.official", "rust.sign.ours"),
    ("Python", "get_token round trips, sequential", "ops/s", "python.get_token.ours", "python.get_token.official",
     "rust.get_token.ours"),
    ("Python", "  latency p50 / p99", "us", "python.get_token.ours", "python.get_token.official", "rust.get_token.ours"),
    ("Python", "get_token round trips, 8 threads", "ops/s", "python.get_token_threads.ours",
     "python.get_token_threads.official", "rust.get_token_threads.ours"),
    ("Python", "  latency p50 / p99", "us", "python.get_token_threads.ours", "python.get_token_threads.official",
     "rust.get_token_threads.ours"),
    ("Python", "access_token(), cached token", "ns/op", "python.access_token.ours", None, "rust.access_token.ours"),
    # A protected WaaS GET through each hook against the SDK's generated call (goal: 1.5x).
    *[("Python", f"WaaS GET: {hook}", "ops/s", f"python.waas_get.{id}", "python.waas_get.official", None)
      for hook, id in [("requests hook", "requests"), ("httpx hook", "httpx"), ("httpx hook, async", "httpx_async"),
                       ("cobo_waas2 + TokenManager", "waas2")]],
    ("Kotlin", "sign a request", "ops/s", "kotlin.sign.ours", "kotlin.sign.official", "rust.sign.ours"),
    ("Kotlin", "get_token round trips, sequential", "ops/s", "kotlin.get_token.ours", "kotlin.get_token.official",
     "rust.get_token.ours"),
    ("Kotlin", "  latency p50 / p99", "us", "kotlin.get_token.ours", "kotlin.get_token.official", "rust.get_token.ours"),
    ("Kotlin", "access_token(), cached token", "ns/op", "kotlin.access_token.ours", None, "rust.access_token.ours"),
    # Swift has no official SDK: its figures are set against the core's only.
    ("Swift", "sign a request", "ops/s", "swift.sign.ours", None, "rust.sign.ours"),
    ("Swift", "get_token round trips, sequential", "ops/s", "swift.get_token.ours", None, "rust.get_token.ours"),
    ("Swift", "  latency p50 / p99", "us", "swift.get_token.ours", None, "rust.get_token.ours"),
    ("Swift", "access_token(), cached token", "ns/op", "swift.access_token.ours", None, "rust.access_token.ours"),
    # The core has no official counterpart: its reference is the work it cannot avoid.
    ("Rust core", "sign a request (ref: bare sha256²+ed25519)", "ops/s", "rust.sign.ours", "rust.sign.bare", None),
    ("Rust core", "get_token round trips (ref: unsigned GET)", "ops/s", "rust.get_token.ours", "rust.http.unsigned",
     None),
    ("Rust core", "  latency p50 / p99", "us", "rust.get_token.ours", "rust.http.unsigned", None),
    ("Rust core", "get_token round trips, 8 threads", "ops/s", "rust.get_token_threads.ours", None, None),
    ("Rust core", "  latency p50 / p99", "us", "rust.get_token_threads.ours", None, None),
    ("Rust core", "access_token(), cached token", "ns/op", "rust.access_token.ours", None, None),
    # The async forms against the blocking ones of the same language (issue goals: round
    # trips >= 0.9x the throughput, a cached token <= 2x the time).
    *[row for language, prefix, sep in [("Rust", "rust", "_"), ("Python", "python", "_"), ("Kotlin", "kotlin", "."),
                                        ("Swift", "swift", ".")]
      for row in [("Async", f"{language}: get_token round trips", "ops/s", f"{prefix}.get_token{sep}async.ours",
                   f"{prefix}.get_token.ours", None),
                  ("Async", f"{language}: access_token(), cached token", "ns/op",
                   f"{prefix}.access_token{sep}async.ours", f"{prefix}.access_token.ours", None)]],
]
HIGHER_IS_BETTER = {"ops/s"}


def number(value: float) -> str:
    if value >= 100_000:
        return f"{value / 1000:,.0f}k"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def view(figure: dict[str, Any], unit: str) -> dict[str, float]:
    """The figure in the unit of the row: median, q1, q3, min, max (or p50, p99)."""
    if unit == "us":
        return {"p50": figure["p50_us"], "p99": figure["p99_us"]}
    keys = ("median", "q1", "q3", "min", "max")
    if unit == "ns/op" and figure["unit"] == "ops/s":  # a rate turned into time per call
        inverted = {k: 1e9 / figure[k] for k in keys}
        inverted["q1"], inverted["q3"] = inverted["q3"], inverted["q1"]
        inverted["min"], inverted["max"] = inverted["max"], inverted["min"]
        return inverted
    return {k: figure[k] for k in keys}


def cell(v: Optional[dict[str, float]]) -> str:
    if v is None:
        return "—"
    if "p50" in v:
        return f"{number(v['p50'])} / {number(v['p99'])}"
    return f"{number(v['median'])} [{number(v['q1'])}–{number(v['q3'])}]"


def ratio(a: Optional[dict[str, float]], b: Optional[dict[str, float]]) -> Optional[float]:
    if a is None or b is None:
        return None
    key = "p50" if "p50" in a else "median"
    return a[key] / b[key] if b[key] else None


def verdict(r: Optional[float], unit: str) -> str:
    if not r:
        return ""
    better = r > 1 if unit in HIGHER_IS_BETTER else r < 1
    factor = r if r >= 1 else 1 / r
    if abs(factor - 1) < 0.05:
        return "same"
    word = {"ops/s": ("faster", "slower"), "MB": ("smaller", "larger")}.get(unit, ("faster", "slower"))
    return f"{factor:.1f}x {word[0] if better else word[1]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()

    parts: dict[str, Any] = {}
    figures: dict[str, dict[str, Any]] = {}
    for path in sorted(args.dir.glob("*.json"), key=lambda p: p.stem.replace("-official", "~")):
        if path.resolve() == args.out.resolve():
            continue
        part = json.loads(path.read_text(encoding="utf-8"))
        parts[path.stem] = part
        figures.update({f["id"]: f for f in part["figures"]})

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    machine = {"cpu": cpu, "cores": os.cpu_count(), "load_average": os.getloadavg(), "system": platform.platform()}
    print(f"cobo-oauth vs Cobo's official SDKs — {time.strftime('%Y-%m-%d %H:%M')}, {cpu}, {os.cpu_count()} cores, "
          f"load {machine['load_average'][0]:.1f}")
    languages: dict[str, dict[str, Any]] = {}
    for part in parts.values():
        language = languages.setdefault(part["language"], {"runtime": part.get("runtime", ""), "versions": {}})
        language["versions"].update(part.get("versions", {}))
    for name, language in languages.items():
        versions = ", ".join(f"{k} {v}" for k, v in language["versions"].items())
        print(f"  {name}: {language['runtime']}{'; ' + versions if versions else ''}")
    print("  median of 7 repetitions (21 for the async/sync round trips) after a warm-up [quartiles];"
          " ratios of medians (of p50 for latency rows)")

    def header(section: str) -> str:
        other = {"Rust core": ("reference", "ours/reference"), "Async": ("sync", "async/sync")}.get(
            section, ("official", "ours/official"))
        return f"{section:<50} {'ours':>22} {other[0]:>22} {other[1]:>20} {'binding/core' if other[0] == 'official' else '':>13}"
    rows, section = [], None
    for name, what, unit, ours_id, official_id, core_id in ROWS:
        ours = figures.get(ours_id)
        if ours is None:
            continue
        if name != section:
            section = name
            print("\n" + header(name))
        ours_v = view(ours, unit)
        official_v = view(figures[official_id], unit) if official_id in figures else None
        core_v = view(figures[core_id], unit) if core_id in figures else None
        vs_official, vs_core = ratio(ours_v, official_v), ratio(ours_v, core_v)
        ratio_text = f"{vs_official:.2f} {verdict(vs_official, unit):>8}" if vs_official is not None else ""
        core_text = f"{vs_core:.2f}" if vs_core is not None else ""
        print(f"  {what + ' (' + unit + ')':<48} {cell(ours_v):>22} {cell(official_v):>22} {ratio_text:>20} {core_text:>13}")
        rows.append({"section": name, "what": what.strip(), "unit": unit, "ours": ours_id, "official": official_id,
                     "core": core_id, "ours_value": ours_v, "official_value": official_v, "core_value": core_v,
                     "ours_over_official": vs_official, "binding_over_core": vs_core})
    if "kotlin.sign.ours" in figures and "kotlin.sign.official" not in figures:
        print("\n  (Kotlin: the official Java SDK could not be resolved by Maven on this machine)")
    print(f"\nratios: ours/official >1 is better for ops/s, <1 for ms, MB, ns/op and us; "
          f"binding/core: the share of the core's figure the binding reaches (ops/s) or its multiple (ns/op, us); "
          f"async/sync: the async form's share of the sync throughput (ops/s) or its multiple of the time (ns/op)")

    args.out.write_text(json.dumps({"machine": machine, "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                    "rows": rows, "parts": parts}, indent=2), encoding="utf-8")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
