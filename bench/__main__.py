"""Run the benchmarks: ``python -m bench [NAME ...]``.

Every module ``bench/bench_<name>.py`` with a ``main()`` function is a benchmark. ``main()``
(plain or ``async``) takes no arguments and returns a JSON-serialisable dict of results; this
runner writes it, with the machine it ran on, to ``bench/results/<name>.json`` and prints it.
A ``main()`` that returns None has written its own results file. With names, only those
benchmarks run (``python -m bench llm``); a failing benchmark does not stop the others.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def run(name: str) -> dict[str, Any] | None:
    module = importlib.import_module(f"bench.bench_{name}")
    started = time.time()
    result = module.main()
    if inspect.isawaitable(result):
        result = asyncio.run(result)  # type: ignore[arg-type]
    if result is None:
        return None
    return {
        "benchmark": name,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 2),
        "machine": machine(),
        "results": result,
    }


def main(argv: list[str]) -> int:
    names = argv or discover()
    unknown = sorted(set(names) - set(discover()))
    if unknown:
        print(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(discover())})")
        return 2
    RESULTS.mkdir(exist_ok=True)
    failed = 0
    for name in names:
        print(f"== {name}", flush=True)
        try:
            report = run(name)
        except Exception:
            traceback.print_exc()
            failed += 1
            continue
        if report is None:
            continue
        path = RESULTS / f"{name}.json"
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(report["results"], indent=2))
        print(f"-> {path.relative_to(HERE.parent)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
