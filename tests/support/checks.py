"""The consistency checker as the operator runs it, for the reliability
tests."""

from __future__ import annotations

import subprocess
import sys


def admin_check(
    redis_url: str, namespace: str, cluster: bool = False
) -> subprocess.CompletedProcess[str]:
    """`storydedup-admin check` on the namespace, as a separate process."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "storydedup.admin",
            "check",
            "--redis-url",
            redis_url,
            "--namespace",
            namespace,
            *(["--redis-cluster"] if cluster else []),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def assert_namespace_consistent(redis_url: str, namespace: str, cluster: bool = False) -> None:
    """The checker exits 0 and reports no finding."""
    result = admin_check(redis_url, namespace, cluster)
    assert result.returncode == 0 and result.stdout == "", (
        f"storydedup-admin check exited {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-1000:]}"
    )
    assert f"0 findings in namespace {namespace!r}" in result.stderr
