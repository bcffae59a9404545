"""Benchmark ``kjoretoyregister svv generate`` (and in-process bulk lookups on the result).

Runs the real CLI in a subprocess for ``--vehicles`` (default Norway scale, 6,000,000) and
reports wall time, CPU time of all its processes (on a shared machine the wall time depends
on the neighbours' load), file size and peak memory: the largest single process (getrusage of
the children) and the whole process tree (parent plus pool workers, sampled from /proc every
0.2 s). Then, unless ``--no-lookup``, opens the register in this process and times
``Register.many_by_kjennemerke`` for batches of 1,000 sampled plates (JSON building included,
serialisation with orjson reported separately).

Bounded: the generator is killed after ``--timeout`` seconds (default 1,200) and the lookup
phase runs a fixed number of batches. Targets (issue 2): ≤ 10 min and ≤ 6 GB for 6 M
vehicles; p50 ≤ 100 ms for 1,000 plates.

    .venv/bin/python bench/svv_generate.py --vehicles 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, in kB (0 if gone)."""
    total = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    stack.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))


def run_generate(args: argparse.Namespace, out: Path) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "kjoretoyregister",
        "svv",
        "generate",
        "--vehicles",
        str(args.vehicles),
        "--seed",
        str(args.seed),
        "--out",
        str(out),
        "--quiet",
    ]
    if args.workers is not None:
        command += ["--workers", str(args.workers)]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    sampler = _TreeSampler(process.pid)
    sampler.start()
    try:
        code = process.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise SystemExit(f"generate did not finish within {args.timeout} s") from None
    finally:
        sampler.stop.set()
        sampler.join()
    elapsed = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"generate failed with exit code {code}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    largest_kb = usage.ru_maxrss
    return {
        "seconds": elapsed,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "size_mb": out.stat().st_size / 1e6,
        "largest_process_mb": largest_kb / 1024,
        "tree_peak_mb": sampler.peak_kb / 1024,
    }


def run_lookups(path: Path, batches: int, batch_size: int) -> dict[str, float]:
    import orjson

    from kjoretoyregister.svv.register import Register

    register = Register(path)
    try:
        opened = time.perf_counter()
        plates = register.sample_kjennemerker(batches * batch_size, seed=42)
        sampled = time.perf_counter() - opened
        build_ms: list[float] = []
        cpu_ms: list[float] = []
        dump_ms: list[float] = []
        for i in range(batches):
            batch = [(p, None) for p in plates[i * batch_size : (i + 1) * batch_size]]
            t0, c0 = time.perf_counter(), time.process_time()
            answers = register.many_by_kjennemerke(batch)
            t1 = time.perf_counter()
            cpu_ms.append((time.process_time() - c0) * 1000)
            orjson.dumps([[r.kjoretoy for r in answer] for answer in answers])
            t2 = time.perf_counter()
            assert sum(len(a) for a in answers) == len(batch)
            build_ms.append((t1 - t0) * 1000)
            dump_ms.append((t2 - t1) * 1000)
        return {
            "sample_s": sampled,
            "first_ms": build_ms[0],
            "p50_ms": statistics.median(build_ms),
            "p95_ms": sorted(build_ms)[int(len(build_ms) * 0.95) - 1],
            "cpu_p50_ms": statistics.median(cpu_ms),
            "dump_p50_ms": statistics.median(dump_ms),
        }
    finally:
        register.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=6_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=1200.0)
    parser.add_argument("--out", type=Path, default=None, help="Keep the register here.")
    parser.add_argument("--batches", type=int, default=30, help="Lookup batches to time.")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-lookup", action="store_true")
    parser.add_argument(
        "--existing", type=Path, default=None, help="Only time lookups on this register file."
    )
    args = parser.parse_args()
    if args.existing is not None:
        _print_lookups(args, run_lookups(args.existing, args.batches, args.batch_size))
        return

    with tempfile.TemporaryDirectory(prefix="svv-bench-") as tmp:
        out = args.out or Path(tmp) / "register.sqlite"
        gen = run_generate(args, out)
        cores = os.cpu_count()
        print(f"\nsvv generate, {args.vehicles:,} vehicles (seed {args.seed}, {cores} cores)")
        print(f"  {'wall time':<28}{gen['seconds']:>10.1f} s   (target ≤ 600 s at 6 M)")
        # On a shared machine wall time depends on the neighbours; CPU time does not.
        print(f"  {'CPU time, all processes':<28}{gen['cpu_seconds']:>10.1f} s")
        load = f"{gen['load_before']:.1f} → {gen['load_after']:.1f}"
        print(f"  {'load average (1 min)':<28}{load:>10}   (machine shared with others)")
        print(f"  {'file size':<28}{gen['size_mb']:>10.0f} MB")
        print(f"  {'peak RSS, largest process':<28}{gen['largest_process_mb']:>10.0f} MB")
        tree = gen["tree_peak_mb"]
        print(f"  {'peak RSS, process tree':<28}{tree:>10.0f} MB  (target ≤ 6144 MB)")
        if not args.no_lookup:
            _print_lookups(args, run_lookups(out, args.batches, args.batch_size))


def _print_lookups(args: argparse.Namespace, look: dict[str, float]) -> None:
    shape = f"{args.batch_size} plates × {args.batches} batches"
    print(f"\nRegister.many_by_kjennemerke, {shape}")
    print(f"  {'first batch (cold)':<28}{look['first_ms']:>10.1f} ms")
    print(f"  {'p50':<28}{look['p50_ms']:>10.1f} ms   (target ≤ 100 ms)")
    print(f"  {'p95':<28}{look['p95_ms']:>10.1f} ms")
    print(f"  {'CPU time p50':<28}{look['cpu_p50_ms']:>10.1f} ms   (this process only)")
    print(f"  {'orjson.dumps p50':<28}{look['dump_p50_ms']:>10.1f} ms")
    print(f"  {'sampling the plates':<28}{look['sample_s']:>10.1f} s")


if __name__ == "__main__":
    main()
