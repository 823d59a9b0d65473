"""Per-hook cost of every charm (``tox -e bench``): a benchmark, not a test.

For each charm, from its wired state converged (leader, every relation wired, workloads
answered by in-process fakes), three tables:

1. **Counts** of one ``update-status`` (steady state) and one full reconcile
   (``config-changed``, and ``relation-changed`` on its first relation) under
   ``ops.testing``, each in a new ``Context``: hook-tool calls as ops asks them and the
   processes Juju would spawn for them (``is-leader`` once: ops caches it for 30 s), Pebble
   calls, HTTP requests to workloads, PBKDF2 derivations, in-process wall time.
2. **Fresh-process full hook**: each full-reconcile hook in a new interpreter, as Juju runs
   a hook (see :func:`fresh_hook` for exactly what each figure includes).
3. **Imports and size** in the charm's own runtime built as ``tox -e pack`` builds it:
   cold-process import time of ``src/charm.py`` beside the same run's bare ``import ops``,
   the slowest modules, and the installed size without bytecode.

Every process timing is the median of ``--runs`` fresh interpreters, after one discarded
run that writes the bytecode (for the workspace's processes, the probe's run). Prints the
tables and writes ``bench-results.json`` to compare run to run. Budgets: see the README;
the deterministic counts are enforced by ``tests/budgets``. On a loaded machine, wall
times stretch; the CPU columns hold.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = ROOT / "tests" / "support"
TEST_PATHS = [str(SUPPORT), str(ROOT / "common" / "tests"), str(ROOT / "servarr" / "tests")]
"""The wired states' shared builders (``servarr_wired``), as pytest's ``pythonpath`` has them."""
sys.path.insert(0, str(ROOT / "tools"))
sys.path[:0] = TEST_PATHS

import stage  # noqa: E402
from charms_under_test import charm_dirs  # noqa: E402
from hook_cost import FULL_RECONCILE_EVENTS, hook_environment, measure, snapshot  # noqa: E402

EVENTS = ("update-status", *FULL_RECONCILE_EVENTS)

_TIMER = (
    "import sys, time; sys.path[:0] = sys.argv[2].split(':'); t = time.perf_counter(); "
    "__import__(sys.argv[1]); print(time.perf_counter() - t)"
)

_FRESH_HOOK = (
    f"import sys; sys.path[:0] = {TEST_PATHS!r}; import hook_cost; "
    "sys.exit(hook_cost._fresh_main(sys.argv[1:]))"
)
"""One hook in a fresh workspace interpreter (ops.testing and the test kit load the state)."""

_PURE_HOOK = """
import importlib, sys
sys.path[:0] = sys.argv[1].split(':')
import ops, ops.main, charm
for name in filter(None, sys.argv[2].split(',')):
    try:
        importlib.import_module(name)
    except ImportError:  # not in this charm's runtime (the kit's, or another charm's)
        pass
for spec in filter(None, sys.argv[3].split(',')):
    module, _, cls = spec.partition(':')
    if module in sys.modules:
        getattr(sys.modules[module], cls).model_rebuild()
"""
"""The charm's runtime alone: import ops and the charm, the modules and models a hook loaded."""


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


def _process(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds from spawn to exit, CPU seconds (user + system), stdout of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def _medians(commands: dict[str, list[str]], runs: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU of each command, the commands interleaved run by run."""
    samples: dict[str, list[tuple[float, float]]] = {key: [] for key in commands}
    for argv in commands.values():  # discarded: writes bytecode, warms the page cache
        if argv[0] != sys.executable:  # the workspace's ran in the probe already
            _process(argv)
    for _ in range(runs):
        for key, argv in commands.items():
            wall, cpu, _ = _process(argv)
            samples[key].append((wall, cpu))
    return {
        key: {
            "wall_s": statistics.median(w for w, _ in values),
            "cpu_s": statistics.median(c for _, c in values),
        }
        for key, values in samples.items()
    }


def fresh_hook(python: Path, path: str, state: Path, runs: int) -> dict:
    """Each full-reconcile hook of the charm in fresh interpreters, beside a bare ``import ops``.

    - ``ops``: ``python -c "import ops"`` in the charm's runtime (the floor of any hook).
    - ``pure``: in the charm's runtime, ``import ops, ops.main, charm``, then every module the
      hook loaded (charm, shared packages, pydantic, lazy stdlib) and ``model_rebuild()``
      of every shared databag model it built: import plus models, without ops.testing.
    - ``run``: the hook's own work, in a warm process (everything imported and built):
      a second run of the hook minus a run of a charm that observes nothing; its CPU leaves
      out what the in-process fakes spent answering (``fakes``: the workloads' share).
    - ``est`` = ``pure`` + ``run``: the fresh-process full hook as Juju would run it, minus the
      hook-tool processes (Juju's, counted in the first table).
    - ``proc``: the whole hook in one fresh workspace process (unpickle the converged state
      ``state`` with ops.testing and the kit, import the charm, run in a new Context, exit),
      and ``floor``: the same with the idle charm (config-changed). ``proc - floor + ops``
      cross-checks ``est``, except the shared modules the fakes import first (in ``floor``).
    """

    def workspace(mode: str, event: str) -> list[str]:
        return [sys.executable, "-I", "-c", _FRESH_HOOK, mode, str(state), event]

    probes = {e: json.loads(_process(workspace("probe", e))[2]) for e in FULL_RECONCILE_EVENTS}
    commands = {
        "ops": [str(python), "-I", "-c", "import ops"],
        "floor": workspace("floor", "config-changed"),
    }
    for event, probe in probes.items():
        modules, models = ",".join(probe["modules"]), ",".join(probe["models"])
        commands[f"pure {event}"] = [str(python), "-I", "-c", _PURE_HOOK, path, modules, models]
        commands[f"proc {event}"] = workspace("hook", event)
    timed = _medians(commands, runs)
    ops, floor = timed["ops"], timed["floor"]
    result: dict = {}
    for event, probe in probes.items():
        pure, proc = timed[f"pure {event}"], timed[f"proc {event}"]
        run_s = max(probe["warm_hook_s"] - probe["warm_idle_s"], 0.0)
        run_cpu_s = max(probe["warm_hook_cpu_s"] - probe["warm_idle_cpu_s"], 0.0)
        est = pure["wall_s"] + run_s
        est_cpu = pure["cpu_s"] + run_cpu_s
        result[event] = {
            "ops": ops,
            "pure": pure,
            "proc": proc,
            "floor": floor,
            "run_s": run_s,
            "run_cpu_s": run_cpu_s,
            "fakes_cpu_s": probe["warm_hook_fakes_cpu_s"],
            "est_s": est,
            "est_cpu_s": est_cpu,
            "est_over_ops": est / ops["wall_s"],
            "est_cpu_over_ops": est_cpu / ops["cpu_s"],
            "cross_check_s": proc["wall_s"] - floor["wall_s"] + ops["wall_s"],
            "models": probe["models"],
            "status": probe["status"],
        }
    return result


def bench(name: str, runs: int) -> dict:
    """Everything measured for one charm."""
    result: dict = {"charm": name}
    start = snapshot(name)
    for event in EVENTS:
        result[event] = measure(name, event, start=start).as_dict()
    with tempfile.TemporaryDirectory() as tmp:
        into = Path(tmp)
        python = stage.build_runtime(name, into)
        path = f"{into / 'lib'}:{into / 'src'}"
        result["import_charm_s"] = _import_seconds(python, "charm", path, runs)
        result["import_ops_s"] = _import_seconds(python, "ops", path, runs)
        result["slowest_imports"] = _slowest(python, path)
        state = into / "converged.pickle"
        state.write_bytes(start)
        result["fresh"] = fresh_hook(python, path, state, runs)
        state.unlink()
        result["runtime_mb"] = round(stage.installed_size(into) / 1e6, 1)
    return result


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _print_counts(results: list[dict]) -> None:
    header = (
        f"{'charm':12} {'event':16} {'calls':>5} {'procs':>5} {'is-leader':>9} "
        f"{'secret-get':>10} {'juju-log':>8} {'+app':>5} {'pebble r/w':>10} {'http':>4} "
        f"{'pbkdf2':>6} "
        f"{'ms':>6}  relation"
    )
    print("Hook-tool calls (as ops asks) and est. processes (as Juju spawns: is-leader once);")
    print("ops.testing, a new Context per run, converged wired state, leader.")
    print("+app: of procs, relation-list --app (ops asks it only for a relation with no remote")
    print("unit, and never for the event's: JUJU_REMOTE_APP names that one).")
    print(header)
    print("-" * len(header))
    for r in results:
        for event in EVENTS:
            c = r[event]
            print(
                f"{r['charm']:12} {event:16} {c['hook_tool_calls']:5} "
                f"{c['hook_tool_processes']:5} {c['is_leader_calls']:9} "
                f"{c['hook_tools'].get('secret-get', 0):10} "
                f"{c['hook_tools'].get('juju-log', 0):8} {c['remote_app_lookups']:5} "
                f"{c['pebble_reads']:>4}/{len(c['pebble_writes']):<5} {c['http_requests']:4} "
                f"{c['pbkdf2_derivations']:6} {c['seconds'] * 1000:6.1f}  {c['relation']}"
            )


def _print_fresh(results: list[dict], runs: int) -> None:
    print(f"\nFresh-process full hook, ms (median of {runs}; wall spawn to exit, CPU user+sys)")
    print("  ops    bare `python -c 'import ops'` in the charm's runtime")
    print("  pure   runtime: import ops, ops.main, charm + the modules/models the hook loaded")
    print("  run    the hook's own work, warm process, above an idle charm (ops.testing)")
    print("  est    pure + run = the hook as Juju runs it, hook-tool processes excluded")
    print("  x ops  est / ops (issue #20's budget: 1.5)")
    print("  cpu    CPU of est, beside ops's CPU and the run's CPU (the CPU above the ops floor;")
    print("         issue #20's budget: 15), the in-process fakes' CPU left out (fakes)")
    print("  x cpu  est's CPU / ops's CPU (steadier than wall on a shared machine)")
    print("  proc   whole hook in a fresh ops.testing process; floor = same, idle charm")
    print("  check  proc - floor + ops (ops.testing's own cost subtracted)")
    print("  models shared databag models the hook built (named in the JSON)")
    header = (
        f"{'charm':12} {'event':16} {'ops':>5} {'pure':>5} {'run':>5} {'est':>5} {'x ops':>5} "
        f"{'cpu':>5} {'ops':>5} {'run':>5} {'fakes':>5} {'x cpu':>5} | "
        f"{'proc':>5} {'floor':>5} {'check':>5}  "
        "models"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        for event in FULL_RECONCILE_EVENTS:
            f = r["fresh"][event]
            print(
                f"{r['charm']:12} {event:16} {_ms(f['ops']['wall_s']):>5} "
                f"{_ms(f['pure']['wall_s']):>5} {_ms(f['run_s']):>5} {_ms(f['est_s']):>5} "
                f"{f['est_over_ops']:5.2f} {_ms(f['est_cpu_s']):>5} {_ms(f['ops']['cpu_s']):>5} "
                f"{_ms(f['run_cpu_s']):>5} {_ms(f['fakes_cpu_s']):>5} "
                f"{f['est_cpu_over_ops']:5.2f} | "
                f"{_ms(f['proc']['wall_s']):>5} {_ms(f['floor']['wall_s']):>5} "
                f"{_ms(f['cross_check_s']):>5}  {len(f['models'])}"
            )


def _print_imports(results: list[dict]) -> None:
    header = f"{'charm':12} {'import ms':>9} {'ops ms':>6} {'MB':>5}  slowest imports"
    print(
        "\nImport of src/charm.py in its runtime (in-process, fresh interpreter); size sans .pyc"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        slow = ", ".join(f"{m} {s * 1000:.0f}" for m, s in r["slowest_imports"])
        print(
            f"{r['charm']:12} {_ms(r['import_charm_s']):>9} {_ms(r['import_ops_s']):>6} "
            f"{r['runtime_mb']:5.1f}  {slow}"
        )


def main() -> int:
    """Print the tables and write bench-results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("charms", nargs="*", default=sorted(charm_dirs()))
    parser.add_argument("--runs", type=int, default=3, help="fresh interpreters per timing")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json")
    args = parser.parse_args()
    hook_environment()
    results = [bench(name, args.runs) for name in args.charms]
    _print_counts(results)
    _print_fresh(results, args.runs)
    _print_imports(results)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
