#!/usr/bin/env python3
# Paired A/B timing of two Moat builds' `moat-sandbox run ... -- /bin/true` (the peer command of
# peers.sh). Absolute medians on these shared machines drift by ±20 % within minutes, far more
# than most single changes move them, so each pair runs A and B back to back in random order
# and the verdict is the median of the per-pair differences (docs/performance.md).
#
#   tests/bench/paired_ab.py BUILD_DIR_A BUILD_DIR_B [PAIRS]      (root; user moat-bench, made by
#                                                                 peers.sh, must exist)
# A build dir needs sandbox/moat-sandbox and sandbox/moat-init; copy them aside to keep a
# baseline while the tree moves on.
import os
import random
import shutil
import statistics
import sys
import time

if len(sys.argv) not in (3, 4):
    sys.exit(__doc__ or "usage: paired_ab.py BUILD_DIR_A BUILD_DIR_B [PAIRS]")
builds = [os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])]
pairs = int(sys.argv[3]) if len(sys.argv) == 4 else 500
run_dir = f"/run/moat-ab.{os.getpid()}"
wall = "run --user moat-bench --memory 512M --pids 1024 --cpu 100 -- /bin/true".split()
null = os.open("/dev/null", os.O_RDWR)


def once(build):
    cli = os.path.join(build, "sandbox", "moat-sandbox")
    argv = [cli, "--run-dir", run_dir] + wall
    start = time.perf_counter()
    pid = os.posix_spawn(cli, argv, {}, file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                                      (os.POSIX_SPAWN_DUP2, null, 1)])
    _, status = os.waitpid(pid, 0)
    if status != 0:
        sys.exit(f"{cli} failed (wait status {status}): run it by hand to see why")
    return (time.perf_counter() - start) * 1e3


try:
    for _ in range(10):  # warm-up: page cache, seccomp cache, id leases
        once(builds[0]), once(builds[1])
    times = ([], [])
    for _ in range(pairs):
        order = [0, 1] if random.random() < 0.5 else [1, 0]
        for which in order:
            times[which].append(once(builds[which]))
finally:
    shutil.rmtree(run_dir, ignore_errors=True)

diffs = sorted(b - a for a, b in zip(*times))
quarter = len(diffs) // 4
print(f"A {builds[0]}: median {statistics.median(times[0]):.3f} ms")
print(f"B {builds[1]}: median {statistics.median(times[1]):.3f} ms")
print(f"B - A, median of {pairs} paired differences: {statistics.median(diffs):+.3f} ms "
      f"(interquartile {diffs[quarter]:+.3f} .. {diffs[-quarter - 1]:+.3f})")
