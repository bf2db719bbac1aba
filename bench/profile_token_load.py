#!/usr/bin/env python3
"""Where the token endpoint's CPU goes under the bench's load (docs/performance.md, "The
token endpoint's CPU under load, thread by thread"). Run by `bench/profile-token --load`.

The same requests as the bench's workloads 2 and 4 (wrk, 16 connections on core 0, the
server and PostgreSQL on core 1): codes minted straight into the database by
`examples/profile_token.rs`, redeemed once each, then their refresh tokens spent once
each; on SQLite and on PostgreSQL (the bench's private cluster), XMPP against
bench/sink.py. Per request, from /proc around each phase:
- jidconnect's CPU by thread: tokio's (its workers: HTTP, JSON, the signature; and its
  blocking pool, which runs the WAL syncs of refresh-token spends on SQLite), sqlx-sqlite's
  worker threads (SQLite's own work and its file I/O: one thread per connection), any
  other, and threads that ended during the phase (the process's CPU less its threads');
- PostgreSQL's: the backends that run the statements, and its background processes (WAL
  writer, autovacuum, checkpointer; with any process that ended during the phase);
- with `perf` (Debian's linux-perf) installed and working: the share of jidconnect's
  samples in aws-lc's RSA code, and so the signature's µs per request as the server runs
  it.
Against `openssl speed`'s RSA-2048 rate on the server core, in the same run. One run,
no rounds: a breakdown, not the bench's table.
"""
import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the bench's processes, services and wrk driver)


def thread_kind(name):
    if name.startswith("tokio-rt-worker"):
        return "tokio threads"
    if name.startswith("sqlx-sqlite"):
        return "SQLite workers"
    return "other threads"


ENDED_THREADS = "ended threads"


def jidconnect_threads(pid):
    """CPU seconds of each thread of the process, by (kind, tid), and of the whole process
    (which keeps the CPU of its threads that ended) under ENDED_THREADS."""
    cpu = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        named = bench.stat_cpu(stat)
        if named:
            cpu[(thread_kind(named[0]), stat.parent.name)] = named[1]
    whole = bench.stat_cpu(Path(f"/proc/{pid}/stat"))
    cpu[(ENDED_THREADS, None)] = whole[1] if whole else 0.0
    return cpu


def postgres_processes(postmaster):
    """CPU seconds of each of PostgreSQL's processes, by (kind, pid): its statement
    backends, and its background processes (the postmaster with its children that ended)."""
    return {("PostgreSQL backends" if bench.is_client_backend(pid)
             else "PostgreSQL background", pid): used
            for pid, used in bench.cpu_by_pid([postmaster]).items()}


def cpu_by_kind(before, after):
    """CPU seconds of each kind over a phase: each thread or process against its first
    sample (0 if it started in the phase); the threads that ended are what the process used
    beyond its live threads."""
    cpu = Counter()
    for (kind, key), used in after.items():
        if kind != ENDED_THREADS:
            cpu[kind] += used - before.get((kind, key), 0.0)
    whole = after[(ENDED_THREADS, None)] - before[(ENDED_THREADS, None)]
    live = sum(used for kind, used in cpu.items() if not kind.startswith("PostgreSQL"))
    cpu[ENDED_THREADS] = whole - live
    return cpu


# aws-lc's symbols carry its prefix, except the assembly's local ones and rsa_impl.c's
# static functions, which do much of a 2048-bit modular exponentiation.
AWS_LC_SYMBOL = re.compile(r"aws_lc|^(__)?bn_|^rsaz_|mulx?4x|sqrx?8x|^mod_(exp|montgomery)$")


def rsa_share(perf_data):
    """The share of the recorded samples in aws-lc, which on this path does nothing but the
    RS256 signature (the digests are the sha2 crate's); None if perf could not say."""
    report = subprocess.run(
        ["perf", "report", "-i", str(perf_data), "--no-children", "--sort", "sym",
         "-g", "none", "--percent-limit", "0", "--stdio"],
        capture_output=True, text=True)
    if report.returncode != 0:
        bench.log(f"perf report failed: {report.stderr.strip()[:300]}")
        return None
    share = 0.0
    for line in report.stdout.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+\[\.\]\s+(\S+)", line)
        if match and AWS_LC_SYMBOL.search(match.group(2)):
            share += float(match.group(1)) / 100
    return share


# When perf starts in a phase, and for how long it samples (seconds).
PERF_AFTER, PERF_FOR = 2, 3


def phase(server, mode, inputs, output, extra_pids, perf_out, seconds):
    """One wrk run of `mode` over single-use `inputs` (at most `seconds`): its figures per
    request."""
    def sample():
        cpu = jidconnect_threads(server.pid)
        for pid in extra_pids:
            cpu.update(postgres_processes(pid))
        return cpu

    recorder = None
    if perf_out:
        # A few seconds inside the phase: perf's own interrupts would inflate the CPU
        # figures of the whole phase.
        recorder = subprocess.Popen(
            ["sh", "-c", f"sleep {PERF_AFTER}; exec perf record -F 999 -o {perf_out} "
                         f"-p {server.pid} -- sleep {PERF_FOR}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        before = sample()
        run = bench.start_wrk(server, server.base, server.token_path, seconds, mode, inputs,
                              output, bench.CONNECTIONS)
        stats = bench.finish_wrk(run)
        after = sample()
        recorded = recorder and recorder.wait() == 0
    finally:
        if recorder and recorder.poll() is None:
            recorder.kill()
    answered = stats["answered"]
    if answered == 0:
        raise bench.BenchError(f"{mode}: no request answered")
    result = {"req_s": answered / stats["active_seconds"], "p50_ms": stats["p50_ms"],
              "p99_ms": stats["p99_ms"],
              "cpu_us": {kind: used * 1e6 / answered
                         for kind, used in cpu_by_kind(before, after).items()}}
    if perf_out:
        # A phase whose codes ran out before perf was done left it sampling an idle server.
        whole = stats["active_seconds"] > PERF_AFTER + PERF_FOR + 0.5
        share = rsa_share(perf_out) if recorded and whole else None
        if not recorded:
            bench.log(f"{mode}: perf record failed (see perf_event_paranoid, linux-perf)")
        jidconnect = sum(v for k, v in result["cpu_us"].items()
                         if not k.startswith("PostgreSQL"))
        result["rsa_us"] = None if share is None else share * jidconnect
    return result


def profile(procs, run_dir, args, name, sink_port, postgres):
    database_url = postgres.create_database(f"token_{name}") if postgres else None
    server = bench.start_jidconnect(procs, run_dir, args.binary, name, "auth.localhost",
                                    sink_port, "unused", database_url=database_url)
    home = run_dir / name
    url = database_url or f"sqlite://{home}/jidconnect.db"
    codes = home / "codes"
    with open(codes, "w") as out:
        subprocess.run([args.driver, "mint", "--database-url", url, "--client-id",
                        server.client_id, "--count", str(args.count + args.warm)],
                       check=True, stdout=out)
    lines = codes.read_text().splitlines()
    (home / "warm-codes").write_text("\n".join(lines[:args.warm]) + "\n")
    codes.write_text("\n".join(lines[args.warm:]) + "\n")
    extra = [postgres.process.pid] if postgres else []
    perf = args.perf and bench.shutil.which("perf")
    phase(server, "code", home / "warm-codes", home / "warm-tokens", extra, None, 10)
    results = {"code": phase(server, "code", codes, home / "tokens", extra,
                             perf and home / "code.perf", args.seconds),
               "refresh": phase(server, "refresh", home / "tokens", None, extra,
                                perf and home / "refresh.perf", args.seconds)}
    procs.stop([p for p in procs.started if p.pid == server.pid])
    return results


KINDS = ["tokio threads", "SQLite workers", "other threads", ENDED_THREADS,
         "PostgreSQL backends", "PostgreSQL background"]


def report(results, rsa_per_s):
    sign_us = 1e6 / rsa_per_s
    lines = [f"`openssl speed` RSA-2048 on the server core: {rsa_per_s:,.0f}/s "
             f"({sign_us:.0f} µs a signature)", "",
             "| backend | grant | req/s | vs sign | p50 / p99 ms | CPU µs/req | "
             + " | ".join(KINDS) + " | of which RSA (perf) |",
             "|---" * (7 + len(KINDS)) + "|"]
    for backend, phases in results.items():
        for grant, r in phases.items():
            cpu = r["cpu_us"]
            rsa = ("(no perf)" if "rsa_us" not in r
                   else "(phase too short, or perf failed: see the log)" if r["rsa_us"] is None
                   else f"{r['rsa_us']:.0f}")
            lines.append(
                f"| {backend} | {grant} | {r['req_s']:,.0f} | {r['req_s'] / rsa_per_s:.2f} | "
                f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} | {sum(cpu.values()):.0f} | "
                + " | ".join(f"{round(cpu.get(k, 0.0)):,}" for k in KINDS) + f" | {rsa} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--driver", required=True, help="the release profile_token example")
    parser.add_argument("--count", type=int, default=30000)
    parser.add_argument("--warm", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=20,
                        help="wrk's duration; a phase ends sooner when its codes run out")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-perf", dest="perf", action="store_false")
    args = parser.parse_args()
    run_dir = bench.BENCH / ".run" / "profile-token-load"

    def work(procs, services):
        rsa_per_s = bench.openssl_speed(3)["rs256"]
        sink_port = bench.free_port()
        procs.start("sink", [sys.executable, str(bench.BENCH / "sink.py"), "--port",
                             str(sink_port)], bench.LOAD_CORE)
        bench.wait_port(sink_port, "the XMPP sink")
        results = {}
        bench.log("SQLite")
        results["SQLite"] = profile(procs, run_dir, args, "sqlite", sink_port, None)
        if not args.no_postgres:
            postgres = bench.PostgreSQL(procs, services)
            bench.log("PostgreSQL")
            results["PostgreSQL"] = profile(procs, run_dir, args, "postgres", sink_port,
                                            postgres)
        return results, report(results, rsa_per_s)

    return bench.run(run_dir, work)


if __name__ == "__main__":
    sys.exit(main())
