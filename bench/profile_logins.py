#!/usr/bin/env python3
"""Where a full login spends its time, per deployment (docs/performance.md): jidconnect on
SQLite, on PostgreSQL alone, and as several instances on one PostgreSQL. Run by
bench/profile-logins.

The same logins as the bench's workload 3 (bench_logins through authorize, the JID form,
the wait page and continue; bench/bot.py accepting every XEP-0070 request over a private
Prosody), and per login:
- server CPU from /proc, jidconnect's processes and PostgreSQL's apart, and PostgreSQL's
  split by process: the backends that run statements, those that LISTEN (one per
  instance; PostgreSQL wakes each of them on every NOTIFY, so their CPU is the cost of
  the notification fan-out), and its background work;
- PostgreSQL's work from its own statistics: `pg_stat_statements` (each statement's
  calls and execution time, NOTIFYs included), `pg_stat_database` (commits) and
  `pg_stat_user_tables` (row versions written per table, and how many updates were HOT),
  reset after a warm-up, so they count the measured logins and what ran meanwhile
  (heartbeats, polls), not the startup; commits and rows are read 11 s after the logins
  (when every backend has published them), so they also hold those seconds' background
  work (a heartbeat every 2 s and a poll every second per instance: under 0.01 per login
  at 3,000 logins);
- context switches of the jidconnect processes (/proc/PID/status), a measure of task
  hand-offs between threads.
Counts do not depend on what else runs on the machine; CPU and rates do.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the bench's processes, services and login driver)


def context_switches(pids):
    """Every thread's voluntary and involuntary switches (a process's own status file
    counts only its main thread's)."""
    total = 0
    for pid in bench.process_tree(pids):
        for status in Path(f"/proc/{pid}/task").glob("*/status"):
            try:
                lines = status.read_text().splitlines()
            except OSError:
                continue
            total += sum(int(line.split()[1]) for line in lines
                         if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")))
    return total


class Postgres(bench.PostgreSQL):
    """The bench's private cluster, with pg_stat_statements loaded."""

    def __init__(self, procs, services):
        super().__init__(procs, services,
                         settings=["shared_preload_libraries=pg_stat_statements",
                                   "pg_stat_statements.track=all"])
        self.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "postgres")

    def sql(self, query, database):
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", "psql", "-h", "127.0.0.1", "-p",
             str(self.port), "-d", database, "-AtXqc", query],
            capture_output=True, text=True)
        if result.returncode != 0:
            raise bench.BenchError(f"psql: {result.stderr.strip()}")
        return result.stdout

    def reset(self, database):
        self.sql("SELECT pg_stat_statements_reset()", "postgres")
        self.sql("SELECT pg_stat_reset()", database)

    def statements(self, database):
        """Each statement's calls and execution time (published as they run)."""
        return json.loads(self.sql(
            "SELECT coalesce(json_agg(s), '[]') FROM (SELECT query, sum(calls) AS calls, "
            "sum(total_exec_time) AS ms FROM pg_stat_statements "
            f"WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '{database}') "
            "GROUP BY query ORDER BY sum(calls) DESC) s", "postgres"))

    def counts(self, database):
        """Commits, and row versions written per table."""
        commits = int(self.sql(
            f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{database}'",
            "postgres"))
        # Row versions written per table: an update that is not HOT (heap-only: the new
        # version on the same page, no indexed column changed) also writes every index.
        tables = json.loads(self.sql(
            "SELECT coalesce(json_agg(t), '[]') FROM (SELECT relname AS table, "
            "n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS hot, "
            "n_tup_del AS deleted FROM pg_stat_user_tables "
            "WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname) t", database))
        return commits, tables

    def listening(self, database):
        """The pids of the database's backends that LISTEN (one per instance), by the name
        jidconnect gives their connections."""
        rows = self.sql(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
            f"AND datname = '{database}' AND application_name LIKE 'jidconnect listener %'",
            "postgres")
        pids = {int(pid) for pid in rows.split()}
        if not pids:
            bench.log("no listener found by name (a jidconnect older than 2026-12-04 names "
                      "none): the LISTEN backends count as statement backends")
        return pids


ROUTES = {
    "spread": "each request to the next instance",
    "leader": "every request to the leader",
    "follower": "every request to one instance that does not lead",
}


class Routed:
    """The cluster as the login driver sees it: every instance in turn (as behind a
    balancer without sticky sessions), only the leader (no hand-off, the others idle), or
    only one instance that does not lead (every login handed off, all its pages served by
    one process). Comparing the three tells what idle instances, the hand-off and
    spreading a login over processes each cost."""

    def __init__(self, cluster, route):
        self.cluster = cluster
        leads = [bool(bench.health(base).get("is_leader")) for base in cluster.bases]
        if route == "spread":
            self.bases = cluster.bases
        else:
            self.bases = [next(base for base, leader in zip(cluster.bases, leads)
                               if leader == (route == "leader"))]

    def __getattr__(self, name):
        return getattr(self.cluster, name)


def postgres_split(before, after, listening):
    """PostgreSQL's CPU in a run by what its processes do: the backends that LISTEN (the
    notification fan-out: every NOTIFY wakes each of them), the other backends (the
    statements), and its own background work (WAL writer, autovacuum, checkpointer…)."""
    split = {"listening": 0.0, "statements": 0.0, "background": 0.0}
    for pid, seconds in after.items():
        used = seconds - before.get(pid, 0.0)
        if pid in listening:
            split["listening"] += used
        elif bench.is_client_backend(pid):
            split["statements"] += used
        else:
            split["background"] += used
    return split


def measure(setup, logins, procs_cpu, switches, postgres, database, helper, concurrency,
            work):
    """Runs the logins; per-login figures."""
    if postgres:
        # The warm-up's counts, published late (below), must not land after the reset.
        time.sleep(11)
        postgres.reset(database)
    pg_root = [postgres.process.pid] if postgres else []
    cpu0, pg0, cs0 = procs_cpu(), bench.cpu_by_pid(pg_root), switches()
    stats = bench.mint_codes(helper, setup, logins, concurrency, work / "codes")
    cpu, pg1, cs = procs_cpu() - cpu0, bench.cpu_by_pid(pg_root), switches() - cs0
    split = postgres_split(pg0, pg1, postgres.listening(database) if postgres else set())
    result = {"logins_s": stats["logins"] / stats["seconds"],
              "p50_ms": stats["p50_ms"], "p99_ms": stats["p99_ms"],
              "jidconnect_cpu_us": cpu * 1e6 / logins,
              "postgres_cpu_us": sum(split.values()) * 1e6 / logins,
              "postgres_split_us": {k: v * 1e6 / logins for k, v in split.items()},
              "context_switches": cs / logins}
    if postgres:
        statements = postgres.statements(database)
        # A backend publishes its counts at most every second, and one gone idle only after
        # 10 s: wait for those, or the last second's rows and commits would be missing.
        time.sleep(11)
        commits, tables = postgres.counts(database)
        result["commits"] = commits / logins
        result["tables"] = [{k: v / logins if k != "table" else v for k, v in t.items()}
                            for t in tables]
        result["statements"] = [
            {"query": " ".join(s["query"].split()), "calls": s["calls"] / logins,
             "us": s["ms"] * 1e3 / logins} for s in statements]
    return result


def report(name, result):
    lines = [f"### {name}", "",
             f"{result['logins_s']:,.0f} logins/s, p50 / p99 {result['p50_ms']:.1f} / "
             f"{result['p99_ms']:.1f} ms; per login: jidconnect CPU "
             f"{result['jidconnect_cpu_us']:,.0f} µs, PostgreSQL CPU "
             f"{result['postgres_cpu_us']:,.0f} µs, {result['context_switches']:.1f} context "
             "switches (jidconnect)"]
    if "statements" in result:
        total = sum(s["calls"] for s in result["statements"])
        split = result["postgres_split_us"]
        lines += [f"PostgreSQL CPU per login by process: {split['statements']:,.0f} µs in the "
                  f"backends that run statements, {split['listening']:,.0f} µs in those that "
                  f"LISTEN (the notification fan-out), {split['background']:,.0f} µs in its "
                  "background work", "",
                  f"{result['commits']:.2f} commits and {total:.2f} statements per login:", "",
                  "| per login | calls | exec µs | statement |", "|---|---|---|---|"]
        for s in result["statements"]:
            if s["calls"] >= 0.005:
                query = s["query"][:140].replace("|", "\\|")
                lines.append(f"| | {s['calls']:.2f} | {s['us']:.0f} | `{query}` |")
        lines += ["", "Row versions written per login (HOT: updates that wrote no index):", "",
                  "| table | inserted | updated | of which HOT | deleted |", "|---|---|---|---|---|"]
        for t in result["tables"]:
            lines.append(f"| {t['table']} | {t['inserted']:.2f} | {t['updated']:.2f} | "
                         f"{t['hot']:.2f} | {t['deleted']:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--helper", required=True)
    parser.add_argument("--logins", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--instances", type=int, nargs="*", default=[1, 3],
                        help="PostgreSQL cluster sizes to profile")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--handoff", choices=["direct", "queued"], default="direct",
                        help="how instances hand requests to the leader: over HTTP to its "
                             "cluster_url, or through the database (builds before "
                             "cluster_url know only this)")
    parser.add_argument("--route", choices=list(ROUTES), nargs="*", default=["spread"],
                        help="where the logins' requests go with several instances "
                             "(each route measured in turn on the same cluster)")
    args = parser.parse_args()
    run_dir = bench.BENCH / ".run" / "profile-logins"

    def work(procs, services):
        out = []
        prosody = bench.Prosody(procs, run_dir, ["auth.localhost", "cluster.localhost"],
                                args.concurrency)
        bench.Bot(procs, prosody, args.concurrency)
        warm = min(200, args.logins)
        if not args.no_sqlite:
            bench.log("SQLite")
            server = bench.start_jidconnect(procs, run_dir, args.binary, "sqlite",
                                            "auth.localhost", prosody.component_port,
                                            prosody.secret)
            pids = [server.pid]
            (run_dir / "sqlite-warm").mkdir()
            bench.mint_codes(args.helper, server, warm, args.concurrency,
                             run_dir / "sqlite-warm" / "codes")
            result = measure(server, args.logins, lambda: bench.cpu_seconds(pids),
                             lambda: context_switches(pids), None, None, args.helper,
                             args.concurrency, run_dir / "sqlite-warm")
            out.append(("SQLite, 1 instance", result))
            procs.stop([p for p in procs.started if p.pid == server.pid])
        if args.instances:
            postgres = Postgres(procs, services)
        for size in args.instances:
            bench.log(f"PostgreSQL, {size} instance(s)")
            database = f"profile{size}"
            cluster = bench.Cluster(procs, run_dir / database, args.binary,
                                    postgres.create_database(database),
                                    postgres.process.pid, prosody,
                                    direct=args.handoff == "direct")
            while len(cluster.instances) < size:
                cluster.add_instance()
            pids = [process.pid for _, process, _ in cluster.instances]
            bench.mint_codes(args.helper, cluster, warm, args.concurrency,
                             cluster.home / "warm-codes")
            for route in args.route if size > 1 else ["spread"]:
                route_dir = cluster.home / f"work-{route}"
                route_dir.mkdir()
                result = measure(Routed(cluster, route), args.logins,
                                 lambda: bench.cpu_seconds(pids),
                                 lambda: context_switches(pids), postgres, database,
                                 args.helper, args.concurrency, route_dir)
                name = f"PostgreSQL, {size} instance(s)"
                out.append((name if size == 1 else f"{name}, {ROUTES[route]}", result))
            cluster.stop()
        return out, "\n".join(report(name, result) for name, result in out)

    return bench.run(run_dir, work)


if __name__ == "__main__":
    sys.exit(main())
