"""gunicorn settings of test_deploy.py: each worker, once initialized, leaves a file named
by its pid in the test's ready directory (deploy_common.mark_ready)."""

from typing import Any


def post_worker_init(worker: Any) -> None:
    from deploy_common import mark_ready

    mark_ready()
