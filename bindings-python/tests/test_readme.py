"""The README's Python quickstart runs as written, against the mock server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from cobo_oauth import AppKey
from conftest import CLIENT_ID, ORG_ID, REPO, Mock


def quickstart(heading: str = "## Quickstart") -> str:
    readme = (REPO / "bindings-python" / "README.md").read_text(encoding="utf-8")
    section = readme.split(heading, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block under ## Quickstart"
    return match.group(1)


def snippet_env(mock: Mock, app_key: AppKey) -> dict[str, str]:
    """What the README's snippets read from the environment, pointing at the mock."""
    return {
        **os.environ,
        "COBO_APP_PRIVATE_KEY": app_key.private_key_hex(),
        "COBO_ENV": "sandbox",
        "COBO_BASE_URL": mock.base_url,
        "COBO_RESPONSE_PUBLIC_KEY": mock.response_public_key,
        "COBO_CLIENT_ID": CLIENT_ID,
        "COBO_ORG_ID": ORG_ID,
    }


def test_quickstart_runs_as_written(mock: Mock, app_key: AppKey, tmp_path: os.PathLike[str]) -> None:
    env = snippet_env(mock, app_key)
    result = subprocess.run(
        [sys.executable, "-c", quickstart()], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("OrgToken(access_token='…', token_type='Bearer'")
    assert lines[1].startswith("refreshed; expires at ")
    assert lines[2] == "400 invalid_grant"
    counters = mock.counters()
    assert (counters["get"], counters["refresh"]) == (1, 2)


def test_token_manager_snippet_runs_as_written(mock: Mock, app_key: AppKey, tmp_path: os.PathLike[str]) -> None:
    env = snippet_env(mock, app_key)
    snippet = quickstart("## Token manager")
    for run in range(2):  # the second run starts from the token file
        result = subprocess.run(
            [sys.executable, "-c", snippet], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].startswith("TokenManager(client_id='py-portal-app'"), lines
        assert lines[1].startswith("refresh token expires at 20"), lines
    assert (Path(tmp_path) / "cobo-tokens").is_dir()  # one record file per org inside
    counters = mock.counters()
    assert (counters["get"], counters["refresh"]) == (1, 0)


def test_webhook_snippet_is_valid_python() -> None:
    readme = (REPO / "bindings-python" / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", readme, re.S):
        compile(block, "README.md", "exec")


def test_async_snippet_runs_as_written(mock: Mock, app_key: AppKey, tmp_path: os.PathLike[str]) -> None:
    env = snippet_env(mock, app_key)
    snippet = quickstart("## Async")
    result = subprocess.run([sys.executable, "-c", snippet], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1 token for 100 concurrent requests"]
    assert mock.counters()["get"] == 1



def walkthrough() -> str:
    """The root README's walkthrough: keygen, mock, one set of exports, the quickstart."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## From zero to a first token", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "no sh block under ## From zero to a first token"
    return match.group(1)


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """From the clone's root, with the built `cobo-oauth` and this interpreter (the venv
    holding the installed wheel) as `python3`, and no COBO_ variable set beforehand."""
    assert (REPO / "target" / "release" / "cobo-oauth").exists(), "build the CLI first (bindings-python/scripts/test.sh does)"
    env = {name: value for name, value in os.environ.items() if not name.startswith("COBO_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TMPDIR"] = str(tmp_path)  # where the walkthrough's `mktemp -d` lands
    # Its own session: whatever it leaves running (the mock, if a step fails) is stopped below.
    process = subprocess.Popen(
        ["bash", "-e", "-c", walkthrough()], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        try:
            os.killpg(process.pid, 15)
        except ProcessLookupError:
            pass
    assert process.returncode == 0, stdout + stderr
    lines = stdout.splitlines()
    assert lines[0].startswith("api_key: ") and len(lines[0]) == len("api_key: ") + 64, lines
    assert any(line.startswith("OrgToken(access_token='…', token_type='Bearer'") for line in lines), lines
    assert any(line.startswith("refreshed; expires at ") for line in lines), lines
    assert lines[-1] == "400 invalid_grant", lines
    (workdir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert (workdir / "app.key").stat().st_mode & 0o777 == 0o600
    assert json.loads((workdir / "token.json").read_text())["token_type"] == "Bearer"


def sh_block(readme: str, heading: str, index: int = 0) -> list[str]:
    """The command lines of the `index`th sh block under `heading`."""
    section = (REPO / readme).read_text(encoding="utf-8").split(heading, 1)[1]
    return re.findall(r"```sh\n(.*?)```", section, re.S)[index].strip().splitlines()


def test_the_wheel_install_block_is_what_test_sh_builds_and_installs() -> None:
    """bindings-python/README.md's second install block: the same tools, maturin flags and
    wheel file as this suite's build (test.sh), whose wheel these tests run against.
    test.sh builds `--profile dist` (release, with thin LTO) into target/py-wheels."""
    tools, build, install = sh_block("bindings-python/README.md", "## Install", 1)
    script = (REPO / "bindings-python" / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert tools == "pip install maturin ziglang"
    assert '"maturin>=1.9.4,<2" ziglang==' in script
    assert build.startswith("cd bindings-python && maturin build --release ")
    flags = build.split("--release ", 1)[1].replace(" --out dist", "")
    assert f"maturin\" build --profile dist {flags}" in script.replace("\\\n    ", ""), flags
    wheel = install.removeprefix("pip install dist/")
    built = sorted(path.name for path in (REPO / "target" / "py-wheels").glob("*.whl"))
    assert built == [wheel], f"test.sh built {built}; the README installs {wheel}"


def test_the_one_line_install_is_what_test_sdist_sh_runs() -> None:
    (command,) = sh_block("bindings-python/README.md", "## Install", 0)
    script = (REPO / "bindings-python" / "scripts" / "test-sdist.sh").read_text(encoding="utf-8")
    assert command == "pip install ./bindings-python"
    assert 'pip" install --quiet --disable-pip-version-check \\\n    ./bindings-python' in script


def test_the_make_blocks_name_the_makefile_targets() -> None:
    """README.md's and CONTRIBUTING.md's `make demo` / `make test`: the Makefile's targets,
    `demo` runs the command cli/tests/cli.rs tests, and CI runs `make test`."""
    for readme in ["README.md", "CONTRIBUTING.md"]:
        text = (REPO / readme).read_text(encoding="utf-8")
        block = re.search(r"```sh\n(make demo .*?)```", text, re.S)
        assert block, f"{readme}: no make demo block"
        targets = re.findall(r"^make (\S+)", block.group(1), re.M)
        assert targets == ["demo", "test"], (readme, targets)
    dry = subprocess.run(["make", "-n", "demo", "test"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "target/release/cobo-oauth demo" in dry.stdout
    for suite in ["cargo test", "bindings-python/scripts/test.sh", "mvn -B -f bindings-kotlin/pom.xml verify", "bindings-swift/scripts/test.sh"]:
        assert suite in dry.stdout, suite
    assert "exec make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
