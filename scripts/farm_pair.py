"""Two commands timed side by side with farm-bench, A against its baseline B, each run in turn
(A B A B ...) as whole processes: what every benchmark script here prints its figures with."""
from __future__ import annotations

import shlex
import subprocess


def farm_pair(a: list[str], b: list[str], runs: int, timeout: int) -> str:
    """farm-bench's report of ``a`` against ``b`` (or why it could not run)."""
    out = subprocess.run(["farm-bench", "-n", str(runs), "--timeout", str(timeout), "--vs", shlex.join(b), "--", *a],
                         capture_output=True, text=True)
    return out.stdout or out.stderr
