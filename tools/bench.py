"""Per-hook cost of every charm (``tox -e bench``): a benchmark, not a test.

For each charm, in steady state (converged leader, every relation wired, workloads
answered by in-process fakes), one ``update-status`` and one ``config-changed`` under
``ops.testing``: hook-tool calls by tool, Pebble calls (reads / writes), HTTP requests to
workloads, wall time. Then, in the charm's own runtime built as ``tox -e pack`` builds it:
cold-process import time of ``src/charm.py`` (median of fresh interpreters, beside the
same run's bare ``import ops``, with the slowest modules) and the installed size.

Prints a table and writes ``bench-results.json`` to compare run to run. Budgets: see the
README; the deterministic counts are enforced by ``tests/budgets``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import stage  # noqa: E402
from charms_under_test import charm_dirs  # noqa: E402
from hook_cost import measure  # noqa: E402

_TIMER = (
    "import sys, time; sys.path[:0] = sys.argv[2].split(':'); t = time.perf_counter(); "
    "__import__(sys.argv[1]); print(time.perf_counter() - t)"
)


def _import_seconds(python: Path, module: str, path: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [str(python), "-I", "-c", _TIMER, module, path],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def _slowest(python: Path, path: str, top: int = 3) -> list[tuple[str, float]]:
    out = subprocess.run(
        [str(python), "-I", "-X", "importtime", "-c", _TIMER, "charm", path],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (p.strip() for p in line.removeprefix("import time:").split("|"))
            if cumulative.isdigit() and not name.startswith(" "):
                rows.append((name.strip(), int(cumulative) / 1e6))
    top_level = [r for r in rows if "." not in r[0]]
    return sorted(top_level, key=lambda r: -r[1])[:top]


def bench(name: str, runs: int) -> dict:
    """Everything measured for one charm."""
    result: dict = {"charm": name}
    for event in ("update-status", "config-changed"):
        result[event] = measure(name, event).as_dict()
    with tempfile.TemporaryDirectory() as tmp:
        into = Path(tmp)
        python = stage.build_runtime(name, into)
        path = f"{into / 'lib'}:{into / 'src'}"
        result["import_charm_s"] = _import_seconds(python, "charm", path, runs)
        result["import_ops_s"] = _import_seconds(python, "ops", path, runs)
        result["slowest_imports"] = _slowest(python, path)
        result["runtime_mb"] = round(stage.installed_size(into) / 1e6, 1)
    return result


def main() -> int:
    """Print the table and write bench-results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("charms", nargs="*", default=sorted(charm_dirs()))
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per import timing")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json")
    args = parser.parse_args()
    results = [bench(name, args.runs) for name in args.charms]
    header = (
        f"{'charm':12} {'event':15} {'tools':>5} {'secret-get':>10} {'pebble r/w':>10} "
        f"{'http':>4} {'ms':>6} | {'import ms':>9} {'ops ms':>6} {'MB':>5}  slowest imports"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        for event in ("update-status", "config-changed"):
            c = r[event]
            extra = ""
            if event == "update-status":
                slow = ", ".join(f"{m} {s * 1000:.0f}" for m, s in r["slowest_imports"])
                extra = (
                    f"{r['import_charm_s'] * 1000:9.0f} {r['import_ops_s'] * 1000:6.0f} "
                    f"{r['runtime_mb']:5.1f}  {slow}"
                )
            print(
                f"{r['charm']:12} {event:15} {c['hook_tool_total']:5} "
                f"{c['hook_tools'].get('secret-get', 0):10} "
                f"{c['pebble_reads']:>4}/{len(c['pebble_writes']):<5} {c['http_requests']:4} "
                f"{c['seconds'] * 1000:6.1f} | {extra}"
            )
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
