#!/usr/bin/env python3
"""Per-step medians of a wall's life from the probe log written by a build with
wall_probes.patch applied. Usage: probe_report.py LOG [FIRST_LABEL]

FIRST_LABEL starts a run: C.main for moat-sandbox runs (default), H.create.begin for the
library benchmark. CLOCK_MONOTONIC is shared by all pid namespaces, so host and moat-init
stamps compare directly.
"""
import statistics
import sys

STEPS = [
    ("CLI: open manager, parse flags", "C.main", "H.create.begin"),
    ("validate spec, look up user", "H.create.begin", "H.validate+lookup"),
    ("compile seccomp filter (libseccomp)", "H.validate+lookup", "H.seccomp.compile"),
    ("session dir, id lease, cgroup mkdir", "H.seccomp.compile", "H.cgroup.mkdir"),
    ("limits, delegation, memfd, setup config", "H.cgroup.mkdir", "H.memfd+config"),
    ("clone(NEWNS|PID|NET|UTS|IPC)", "H.memfd+config", "H.clone"),
    ("exec moat-init to main()", "H.clone", "I.main"),
    ("receive setup config (JSON)", "I.main", "I.config.received"),
    ("join cgroups (session, init sub-group)", "I.config.received", "I.join.cgroup"),
    ("  first cgroup.procs write", "I.config.received", "I.join.first.procs.write"),
    ("  other session writes, unshare(CGROUP)", "I.join.first.procs.write", "I.join.session.done"),
    ("  mkdir init sub-groups, move into them", "I.join.session.done", "I.join.cgroup"),
    ("hostname, loopback up", "I.join.cgroup", "I.bring.up.loopback"),
    ("build root (overlay, binds, masks)", "I.bring.up.loopback", "I.build.root"),
    ("control socket, pivot_root", "I.build.root", "I.pivot_root.call"),
    ("umount2(old root, MNT_DETACH)", "I.pivot_root.call", "I.umount.old.root"),
    ("user namespace + id-map round trip", "I.umount.old.root", "I.enter.user.namespace"),
    ("setresuid, drop caps, no_new_privs", "I.enter.user.namespace", "I.lock.down"),
    ("load seccomp", "I.lock.down", "I.load.seccomp"),
    ("ready message to host", "I.load.seccomp", "H.ready.received"),
    ("write state.json", "H.ready.received", "H.state.written"),
    ("connect x2, launch RPC, spawn app", "H.state.written", "C.launch.replied"),
    ("  app cgroups (mkdir, join), fork, exec", "I.app.cgroup.mkdir.begin", "I.launch.execd"),
    ("/bin/true runs, reaped, exit event", "C.launch.replied", "C.app.exited"),
    ("stop: find, thaw, connect, shutdown RPC", "C.app.exited", "H.stop.shutdown.rpc"),
    ("moat-init exits, namespaces torn down", "H.stop.shutdown.rpc", "H.stop.init.exited"),
    ("cgroup kill: freeze, read tasks, thaw", "H.stop.init.exited", "H.stop.cgroup.kill"),
    ("cgroup rmdir (session tree)", "H.stop.cgroup.kill", "H.stop.cgroup.rmdir"),
    ("unlink state, socket, lease", "H.stop.cgroup.rmdir", "H.stop.traces.removed"),
]


def main():
    start = sys.argv[2] if len(sys.argv) > 2 else "C.main"
    end = "C.end" if start == "C.main" else "H.stop.traces.removed"
    runs, current = [], None
    for line in open(sys.argv[1]):
        label, ns = line.split()
        if label == start:
            current = {}
            runs.append(current)
        if current is not None and label not in current:
            current[label] = int(ns)
    totals = [(r[end] - r[start]) / 1e6 for r in runs if end in r]
    print(f"{len(runs)} runs, {start} -> {end}: median {statistics.median(totals):.2f} ms")
    print(f"{'median':>7} {'p90':>7}  step (ms)")
    for name, a, b in STEPS:
        values = sorted((r[b] - r[a]) / 1e6 for r in runs if a in r and b in r)
        if values:
            p90 = values[max(0, int(len(values) * 0.9) - 1)]
            print(f"{statistics.median(values):7.2f} {p90:7.2f}  {name}")


if __name__ == "__main__":
    main()
