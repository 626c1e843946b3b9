"""The README's Python quickstart runs as written, against the mock server."""

from __future__ import annotations

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
        "COBO_APP_KEY": app_key.private_key_hex(),
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

