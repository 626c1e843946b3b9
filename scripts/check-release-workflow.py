#!/usr/bin/env python3
"""Checks the release workflow that cannot run here (.github/workflows/release.yml): it
parses as YAML, says it is untested, every job has a runner and steps, and each `make`
target and repository file its commands name exists. Installs Debian's PyYAML if missing.

    python3 scripts/check-release-workflow.py [workflow.yml]
"""
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_yaml():
    try:
        import yaml
    except ImportError:
        print("check-release-workflow: apt-get install python3-yaml", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-q"], check=True, stdin=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "python3-yaml"], check=True, stdin=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        import yaml
    return yaml


def make_targets():
    with open(os.path.join(REPO, "Makefile")) as makefile:
        return {m.group(1) for m in re.finditer(r"^([a-z][a-z0-9-]*):", makefile.read(), re.M)}


def problems(path):
    with open(path) as f:
        text = f.read()
    if "UNTESTED" not in text.split("\n", 1)[0]:
        yield "the first line must say UNTESTED"
    workflow = load_yaml().safe_load(text)
    targets = make_targets()
    jobs = workflow.get("jobs") or {}
    if not jobs:
        yield "no jobs"
    for name, job in jobs.items():
        if "runs-on" not in job or not job.get("steps"):
            yield f"job {name}: needs runs-on and steps"
        for step in job.get("steps", []):
            directory = step.get("working-directory")
            if directory and not os.path.isdir(os.path.join(REPO, directory)):
                yield f"job {name}: no directory {directory}"
            command = step.get("run", "")
            for invocation in re.findall(r"\bmake ([a-z][a-z0-9 -]*)", command):
                for target in invocation.split():
                    if not target.startswith("-") and target not in targets:
                        yield f"job {name}: no Makefile target {target}"
            for file in re.findall(r"[\w.-]+(?:/[\w.-]+)+\.(?:sh|py|xml|toml)\b", command):
                if not os.path.isfile(os.path.join(REPO, file)):
                    yield f"job {name}: no file {file}"


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, ".github/workflows/release.yml")
    found = list(problems(path))
    for problem in found:
        print(f"check-release-workflow: {os.path.relpath(path, REPO)}: {problem}", file=sys.stderr)
    if found:
        sys.exit(1)
    print(f"check-release-workflow: {os.path.relpath(path, REPO)} parses; its make targets and scripts exist: ok")


if __name__ == "__main__":
    main()
