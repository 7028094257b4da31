"""bench/city_scale.py counts a step's worker processes in its peak memory (the binding step's matchers)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "city_scale.py"

#: a parent that starts a worker holding ~200 MB and waits for it
PARENT = """
import subprocess, sys
worker = subprocess.Popen([sys.executable, "-c", "b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(30)"])
worker.wait()
"""


def _bench():
    spec = importlib.util.spec_from_file_location("city_scale_rss", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_tree_rss_adds_the_workers_of_a_step():
    bench = _bench()
    parent = subprocess.Popen([sys.executable, "-c", PARENT])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            tree = bench._descendants(parent.pid)
            # wait for what is asserted below: the worker writes its pages one by one, and a tree just past
            # 0.19 GB can still be short of the parent's own RSS + 0.19 (seen once in CI under load)
            if len(tree) == 2 and bench._tree_rss_gb(parent.pid) > bench._rss_gb(parent.pid) + 0.19:
                break
            time.sleep(0.1)
        assert tree[0] == parent.pid and len(tree) == 2
        own = bench._rss_gb(parent.pid)
        assert own < 0.1  # the parent itself holds only an interpreter
        assert bench._tree_rss_gb(parent.pid) > own + 0.19  # the worker's 200 MB counted
    finally:
        for pid in reversed(bench._descendants(parent.pid)):
            subprocess.run(["kill", "-9", str(pid)], check=False)
        parent.wait()


def test_a_gone_process_has_no_tree():
    bench = _bench()
    assert bench._descendants(2**22 + 12345) == [2**22 + 12345]  # above pid_max: no /proc entry
    assert bench._tree_rss_gb(2**22 + 12345) == 0.0
