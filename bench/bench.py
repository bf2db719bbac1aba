#!/usr/bin/env python3
"""The benchmark suite, run by bench/run: jidconnect (SQLite and PostgreSQL) side by side
with its references in one run, and a table of medians and per-round ratios.

References measured in the same run: `openssl speed` on the server core (the signing
limit) and panva's oidc-provider (bench/peer/). The load generator and helpers run on
core 0, every server (and PostgreSQL) on core 1. Server CPU per request comes from /proc
(utime + stime of the server's process tree), so it holds even when wrk saturates its own
core. Everything listens on 127.0.0.1 only; every run is bounded in time and count.

Workloads: 1 discovery + JWKS; 2 token endpoint (authorization_code, RS256 ID token, one
fresh code per request, minted untimed through 3: the full login over a real Prosody with
a bot that accepts every request); 4 userinfo and refresh_token; 5 pending logins against
a silent XMPP server (bench/sink.py).
"""
import argparse
import base64
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOAD_CORE, SERVER_CORE = "0", "1"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
REDIRECT_URI = "http://127.0.0.1/cb"
CONNECTIONS = 16


@dataclass
class Profile:
    """How long and how much: the full run and the smoke run (which checks, never times)."""
    rounds: int
    get_seconds: int
    token_seconds: int
    codes: int
    login_concurrency: int
    # Logins one at a time: the latency without queueing.
    single_logins: int
    pending: tuple
    openssl_seconds: int


# Single-use runs (token, refresh) last as long as their codes: a few seconds at full speed.
FULL = Profile(rounds=3, get_seconds=8, token_seconds=10, codes=8000, login_concurrency=64,
               single_logins=200, pending=(10_000, 100_000), openssl_seconds=2)
SMOKE = Profile(rounds=1, get_seconds=1, token_seconds=2, codes=60, login_concurrency=8,
                single_logins=5, pending=(200,), openssl_seconds=1)


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """Something is broken (not slow): the run stops with a non-zero exit."""


# --- processes -----------------------------------------------------------------------

class Processes:
    """Everything the bench starts, stopped (by pid) when it ends."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.started = []

    def start(self, name, argv, core, env=None, stdin=None, stdout=None):
        logfile = open(self.run_dir / f"{name}.log", "w")
        process = subprocess.Popen(
            ["taskset", "-c", core, *argv], env={**os.environ, **(env or {})},
            stdin=stdin, stdout=stdout or logfile, stderr=logfile, start_new_session=True)
        self.started.append(process)
        return process

    def stop_all(self):
        for process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def process_tree(root_pids):
    """The pids and all their descendants (PostgreSQL forks a backend per connection)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], list(root_pids)
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(root_pids):
    total = 0
    for pid in process_tree(root_pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICK


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"process {pid} has no VmRSS")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{what} did not open port {port}")


def health(base):
    """/healthz's JSON, also while it answers 503 (XMPP not connected yet)."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)


# --- the services ----------------------------------------------------------------------

class Prosody:
    """A private Prosody on loopback with the bots' accounts and one component per
    jidconnect."""

    def __init__(self, procs, run_dir, components, bots):
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.secret = base64.b16encode(os.urandom(12)).decode().lower()
        data = run_dir / "prosody"
        (data / "data").mkdir(parents=True)
        as_root = "true" if os.getuid() == 0 else "false"
        blocks = "".join(f'Component "{c}"\n    component_secret = "{self.secret}"\n'
                         for c in components)
        config = data / "prosody.cfg.lua"
        config.write_text(f"""
run_as_root = {as_root}
pidfile = "{data}/prosody.pid"
data_path = "{data}/data"
log = {{ {{ levels = {{ min = "warn" }}, to = "file", filename = "{run_dir}/prosody-own.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.c2s_port} }}
c2s_direct_tls_ports = {{ }}
component_ports = {{ {self.component_port} }}
component_interfaces = {{ "127.0.0.1" }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "disco", "ping" }}
modules_disabled = {{ "s2s", "offline" }}
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "localhost"
{blocks}""")
        # The bots' accounts, written as internal_plain stores them (prosodyctl takes a
        # second per account).
        accounts = data / "data" / "localhost" / "accounts"
        accounts.mkdir(parents=True)
        for i in range(bots):
            (accounts / f"bot{i}.dat").write_text('return { ["password"] = "bot"; };\n')
        procs.start("prosody", ["prosody", "-F", "--config", str(config)], LOAD_CORE)
        wait_port(self.c2s_port, "Prosody")
        wait_port(self.component_port, "Prosody")


class Bot:
    """bench/bot.py: accepts every request and measures Prosody's round trip."""

    def __init__(self, procs, prosody, count):
        self.process = procs.start(
            "bot", [sys.executable, str(BENCH / "bot.py"), "--count", str(count),
                    "--password", "bot", "--port", str(prosody.c2s_port)],
            LOAD_CORE, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        if json.loads(self.process.stdout.readline() or "{}").get("event") != "online":
            raise BenchError("the bot did not log in; see bot.log")

    def stats(self):
        self.process.stdin.write(b"stats\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        if not ready:
            raise BenchError("the bot does not answer; see bot.log")
        return json.loads(self.process.stdout.readline())


class PostgreSQL:
    """A private cluster on the server core, trust auth on loopback, data in a temp dir."""

    def __init__(self, procs):
        versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
        bindir = versions[-1] / "bin"
        self.data = Path(tempfile.mkdtemp(prefix="jidconnect-bench-pg-"))
        shutil.chown(self.data, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(self.data / "db"),
                        "--auth=trust", "-U", "postgres"], check=True,
                       stdout=subprocess.DEVNULL)
        self.port = free_port()
        self.process = procs.start(
            "postgres", [*as_postgres, str(bindir / "postgres"), "-D", str(self.data / "db"),
                         "-p", str(self.port), "-k", str(self.data),
                         "-c", "listen_addresses=127.0.0.1"], SERVER_CORE)
        wait_port(self.port, "PostgreSQL")
        for _ in range(50):
            if subprocess.run([*as_postgres, "psql", "-h", "127.0.0.1", "-p", str(self.port),
                               "-qc", "CREATE DATABASE jidconnect"],
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise BenchError("cannot create the PostgreSQL database; see postgres.log")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/jidconnect"

    def remove(self):
        shutil.rmtree(self.data, ignore_errors=True)


@dataclass
class Server:
    name: str
    pid: int
    base: str
    authorize_path: str
    token_path: str
    userinfo_path: str
    client_id: str
    client_secret: str
    login_args: list
    # Other processes whose CPU is the server's (PostgreSQL).
    extra_pids: list = field(default_factory=list)

    def cpu(self):
        return cpu_seconds([self.pid, *self.extra_pids])


def start_jidconnect(procs, run_dir, binary, name, component, xmpp_port, secret,
                     database_url=None, extra_pids=()):
    """jidconnect on the server core with the bench's limits and one trusted client."""
    home = run_dir / name
    home.mkdir()
    port = free_port()
    # Limits opened up: one bot JID answers every login, all from 127.0.0.1.
    (home / "jidconnect.toml").write_text(f"""
issuer = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
database_url = "{database_url or f'sqlite://{home}/jidconnect.db'}"
keys_dir = "{home}/keys"
[xmpp]
component_jid = "{component}"
server = "127.0.0.1:{xmpp_port}"
secret = "{secret}"
confirm_timeout_secs = 300
[limits]
jid_cooldown_secs = 0
jid_per_hour = 4000000000
domain_per_minute = 4000000000
ip_per_minute = 4000000000
max_pending = 200000
[oidc]
code_ttl_secs = 600
""")
    env = {"JIDCONNECT_CONFIG": str(home / "jidconnect.toml")}
    added = subprocess.run(
        [binary, "client", "add", "--name", "Bench", "--redirect-uri", REDIRECT_URI,
         "--trusted", "--always-refresh", "--json"],
        env={**os.environ, **env}, check=True, capture_output=True, text=True)
    credentials = json.loads(added.stdout)
    process = procs.start(name, [binary, "serve"], SERVER_CORE, env=env)
    wait_port(port, name)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while health(base).get("xmpp") != "connected":
        if time.monotonic() > deadline:
            raise BenchError(f"{name} did not connect to its XMPP server")
        time.sleep(0.1)
    return Server(name=name, pid=process.pid, base=base, authorize_path="/authorize",
                  token_path="/token", userinfo_path="/userinfo",
                  client_id=credentials["client_id"],
                  client_secret=credentials["client_secret"],
                  login_args=["--scope", "openid", "--jid", "bot{w}@localhost"],
                  extra_pids=list(extra_pids))


def start_peer(procs):
    port = free_port()
    process = procs.start("peer", ["node", str(BENCH / "peer" / "provider.mjs"), str(port)],
                          SERVER_CORE)
    wait_port(port, "the peer")
    return Server(name="peer", pid=process.pid, base=f"http://127.0.0.1:{port}",
                  authorize_path="/auth", token_path="/token", userinfo_path="/me",
                  client_id="perf-client", client_secret="perf-secret",
                  login_args=["--scope", "openid offline_access", "--prompt", "consent"])


# --- measurements ------------------------------------------------------------------------

def openssl_speed(seconds):
    """Signatures per second on the server core: RSA-2048, P-256, Ed25519."""
    out = subprocess.run(
        ["taskset", "-c", SERVER_CORE, "openssl", "speed", "-seconds", str(seconds),
         "rsa2048", "ecdsap256", "ed25519"],
        check=True, capture_output=True, text=True).stdout
    patterns = {"rs256": r"^rsa 2048 bits\s+\S+s\s+\S+s\s+([\d.]+)",
                "es256": r"^\s*256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)",
                "eddsa": r"^\s*253 bits EdDSA \(Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)"}
    speeds = {}
    for name, pattern in patterns.items():
        match = re.search(pattern, out, re.MULTILINE)
        if not match:
            raise BenchError(f"cannot read openssl speed's {name} line:\n{out}")
        speeds[name] = float(match.group(1))
    return speeds


def wrk(server, path, seconds, mode="get", inputs=None, output=None):
    """One wrk run against the server; its CPU and RSS from /proc around it."""
    basic = base64.b64encode(f"{server.client_id}:{server.client_secret}".encode()).decode()
    env = {**os.environ, "BENCH_MODE": mode, "BENCH_BASIC": basic,
           "BENCH_REDIRECT_URI": REDIRECT_URI}
    times = None
    if inputs:
        times = inputs.with_name(f"{mode}-times")
        env["BENCH_INPUT"] = str(inputs)
        env["BENCH_TIMES"] = str(times)
    if output:
        env["BENCH_OUTPUT"] = str(output)
    cpu_before = server.cpu()
    result = subprocess.run(
        ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s",
         "--timeout", "10s", "-s", str(BENCH / "wrk" / "oidc.lua"), server.base + path],
        env=env, capture_output=True, text=True, timeout=seconds + 60)
    cpu = server.cpu() - cpu_before
    lines = [l for l in result.stdout.splitlines() if l.startswith("{")]
    if result.returncode != 0 or not lines:
        raise BenchError(f"wrk {mode} {path} failed: {result.stdout}{result.stderr}")
    stats = json.loads(lines[-1])
    # The very last request of a single-use run may carry the "exhausted" marker.
    allowed = 1 if mode in ("code", "refresh") else 0
    if stats["socket_errors"] or stats["non2xx"] > allowed or stats["requests"] == 0:
        raise BenchError(f"{server.name} {mode} {path}: errors in {stats}")
    if times and times.exists():
        # The single-use inputs ran out before -d: the rate is over the time they lasted.
        answered, seconds = times.read_text().split()
        stats["req_s"] = int(answered) / float(seconds)
        stats["cores"] = cpu / float(seconds)
    else:
        stats["req_s"] = stats["requests"] / stats["seconds"]
        stats["cores"] = cpu / stats["seconds"]
    stats["cpu_us"] = cpu * 1e6 / stats["requests"]
    stats["rss_mib"] = rss_mib(server.pid)
    return stats


def mint_codes(helper, server, count, concurrency, codes_file):
    """Full logins through the real flow (workload 3); their codes feed workload 2."""
    result = subprocess.run(
        ["taskset", "-c", LOAD_CORE, helper, "--base", server.base,
         "--authorize-path", server.authorize_path, "--client-id", server.client_id,
         "--redirect-uri", REDIRECT_URI, "--count", str(count),
         "--concurrency", str(concurrency), "--codes-out", str(codes_file),
         *server.login_args], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise BenchError(f"bench_logins failed against {server.name}: {result.stderr}")
    stats = json.loads(result.stdout)
    if stats["failed"]:
        raise BenchError(f"{stats['failed']} logins failed against {server.name}: "
                         f"{stats['first_error']}")
    stats["concurrency"] = concurrency
    return stats


def server_round(server, profile, helper, bot, run_dir, round_no):
    work = run_dir / f"round{round_no}-{server.name}"
    work.mkdir()
    results = {"discovery": wrk(server, "/.well-known/openid-configuration",
                                profile.get_seconds),
               "jwks": wrk(server, "/jwks", profile.get_seconds)}
    if bot:
        bot.stats()  # starts the round-trip sample afresh
    results["login"] = mint_codes(helper, server, profile.codes, profile.login_concurrency,
                                  work / "codes")
    if bot:
        results["login"].update(bot.stats())
    results["single_login"] = mint_codes(helper, server, profile.single_logins, 1,
                                         work / "single-codes")
    if bot:
        results["single_login"].update(bot.stats())
    results["token"] = wrk(server, server.token_path, profile.token_seconds, "code",
                           work / "codes", work / "tokens")
    results["userinfo"] = wrk(server, server.userinfo_path, profile.get_seconds, "userinfo",
                              work / "tokens")
    results["refresh"] = wrk(server, server.token_path, profile.token_seconds, "refresh",
                             work / "tokens")
    return results


def pending_logins(procs, run_dir, binary, helper, counts):
    """Workload 5: logins left pending against a silent XMPP server; RSS per pending."""
    sink_port = free_port()
    procs.start("sink", [sys.executable, str(BENCH / "sink.py"), "--port", str(sink_port)],
                LOAD_CORE)
    wait_port(sink_port, "the XMPP sink")
    server = start_jidconnect(procs, run_dir, binary, "jidconnect-pending", "auth.localhost",
                              sink_port, "unused")
    idle = rss_mib(server.pid)
    results, done = [], 0
    for count in counts:
        started = time.monotonic()
        result = subprocess.run(
            ["taskset", "-c", LOAD_CORE, helper, "--base", server.base,
             "--client-id", server.client_id, "--redirect-uri", REDIRECT_URI,
             "--scope", "openid", "--jid", "p{i}@localhost", "--count", str(count - done), "--first", str(done),
             "--concurrency", "64", "--stop-after-send"],
            capture_output=True, text=True, timeout=600)
        stats = json.loads(result.stdout or "{}")
        if result.returncode != 0 or stats.get("failed"):
            raise BenchError(f"pending logins failed: {stats.get('first_error')}"
                             f"{result.stderr}")
        done = count
        pending = health(server.base)["pending_confirmations"]
        if pending != count:
            raise BenchError(f"{pending} logins pending, expected {count}")
        rss = rss_mib(server.pid)
        results.append({"pending": count, "rss_mib": rss, "idle_mib": idle,
                        "kib_per_pending": (rss - idle) * 1024 / count,
                        "seconds": time.monotonic() - started})
    return results


# --- the report ----------------------------------------------------------------------------

def median(values):
    return statistics.median(values) if values else float("nan")


def machine():
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    return (f"{os.cpu_count()} cores ({model}), kernel {platform.release()}, "
            f"{time.strftime('%Y-%m-%d %H:%M %Z')}, "
            f"1-min load average {os.getloadavg()[0]:.2f}")


WORKLOADS = [("discovery", "GET discovery"), ("jwks", "GET /jwks"),
             ("token", "POST /token authorization_code (RS256)"),
             ("userinfo", "GET userinfo"), ("refresh", "POST /token refresh_token (RS256)")]


def profile_counts(rounds, kind):
    return f"{rounds[0]['servers']['jidconnect'][kind]['logins']:,} logins a round"


def report(rounds, names, pending, idle_rss):
    """Markdown: the table of medians, the per-round ratios and the targets."""
    def values(name, workload, key):
        return [r["servers"][name][workload][key] for r in rounds if name in r["servers"]]

    def ratio(name, workload, key, reference):
        return [r["servers"][name][workload][key] / ref
                for r in rounds if name in r["servers"]
                for ref in [reference(r)] if ref]

    def sign(r):
        return r["openssl"]["rs256"]

    def peer(workload, key):
        return lambda r: r["servers"]["peer"][workload][key]

    out = [f"Machine: {machine()}", "",
           f"{len(rounds)} round(s); server order alternates; wrk -t1 -c{CONNECTIONS} on core "
           f"{LOAD_CORE}, servers and PostgreSQL on core {SERVER_CORE}. Medians over rounds; "
           "ratios are taken within each round, then the median (min–max).", ""]
    speeds = {k: [r["openssl"][k] for r in rounds] for k in ("rs256", "es256", "eddsa")}
    out += ["| `openssl speed`, server core | sign/s median (min–max) |", "|---|---|"]
    for key, label in (("rs256", "RSA-2048"), ("es256", "P-256"), ("eddsa", "Ed25519")):
        out.append(f"| {label} | {median(speeds[key]):,.0f} "
                   f"({min(speeds[key]):,.0f}–{max(speeds[key]):,.0f}) |")
    out += ["", "| workload | server | req/s | p50 / p99 ms | server CPU µs/req | cores "
            "| RSS MiB | vs peer (req/s) | p99 vs peer | vs RS256 sign |",
            "|---|---|---|---|---|---|---|---|---|---|"]

    def spread(xs):
        return f"{median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})" if xs else "–"

    for workload, label in WORKLOADS:
        for name in names:
            req = values(name, workload, "req_s")
            vs_peer = ratio(name, workload, "req_s", peer(workload, "req_s"))
            p99_vs = ratio(name, workload, "p99_ms", peer(workload, "p99_ms"))
            vs_sign = (spread(ratio(name, workload, "req_s", sign))
                       if workload in ("token", "refresh") else "")
            out.append(
                f"| {label} | {name} | {median(req):,.0f} "
                f"| {median(values(name, workload, 'p50_ms')):.2f} / "
                f"{median(values(name, workload, 'p99_ms')):.2f} "
                f"| {median(values(name, workload, 'cpu_us')):,.0f} "
                f"| {median(values(name, workload, 'cores')):.2f} "
                f"| {median(values(name, workload, 'rss_mib')):.0f} "
                f"| {spread(vs_peer) if name != 'peer' else '1.00'} "
                f"| {spread(p99_vs) if name != 'peer' else '1.00'} | {vs_sign} |")
    out += ["", "Full logins (workload 3: authorize → JID form → XEP-0070 over Prosody → bot "
            "accepts → code), the whole machine (servers on core 1; Prosody, the bots and the "
            f"HTTP driver on core 0). Many at once: {profile_counts(rounds, 'login')}; one at "
            f"a time: {profile_counts(rounds, 'single_login')}. \"Added by jidconnect\" is the "
            "login's latency less Prosody's own round trip (the bot pinging itself through "
            "Prosody meanwhile).", "",
            "| server | logins at once | logins/s | p50 / p99 ms "
            "| Prosody round trip p50 / p99 ms | added by jidconnect p50 / p99 ms |",
            "|---|---|---|---|---|---|"]
    for name in names:
        for kind in ("login", "single_login"):
            login = [r["servers"][name][kind] for r in rounds]
            row = (f"| {name} | {login[0]['concurrency']} | {median([l['per_sec'] for l in login]):,.0f} "
                   f"| {median([l['p50_ms'] for l in login]):.1f} / "
                   f"{median([l['p99_ms'] for l in login]):.1f} ")
            if "rtt_p50_ms" in login[0]:
                row += (f"| {median([l['rtt_p50_ms'] for l in login]):.1f} / "
                        f"{median([l['rtt_p99_ms'] for l in login]):.1f} "
                        f"| {median([l['p50_ms'] - l['rtt_p50_ms'] for l in login]):.1f} / "
                        f"{median([l['p99_ms'] - l['rtt_p99_ms'] for l in login]):.1f} |")
            else:
                row += "| (no XMPP: it approves on its own) | |"
            out.append(row)
    out += ["", "Pending logins (workload 5; against a silent XMPP server):", "",
            "| pending at once | RSS MiB | idle RSS MiB | KiB per pending login |",
            "|---|---|---|---|"]
    out += [f"| {p['pending']:,} | {p['rss_mib']:.0f} | {p['idle_mib']:.0f} "
            f"| {p['kib_per_pending']:.2f} |" for p in pending]

    jc = names[0]
    token_sign = median(ratio(jc, "token", "req_s", sign))
    token_peer = median(ratio(jc, "token", "req_s", peer("token", "req_s")))
    after_token = max(values(jc, "token", "rss_mib"))
    targets = [
        ("token (SQLite) ≥ 0.75× RS256 sign/s", f"{token_sign:.2f}×", token_sign >= 0.75),
        ("token (SQLite) ≥ 1.5× peer", f"{token_peer:.2f}×", token_peer >= 1.5),
    ]
    if "jidconnect-pg" in names:
        pg_sign = median(ratio("jidconnect-pg", "token", "req_s", sign))
        targets.append(("token (PostgreSQL, its CPU on the same core) ≥ 0.5× RS256 sign/s",
                        f"{pg_sign:.2f}×", pg_sign >= 0.5))
    for workload in ("discovery", "jwks"):
        cpu = median(values(jc, workload, "cpu_us"))
        targets.append((f"{workload} ≤ 30 µs server CPU/req", f"{cpu:.0f} µs", cpu <= 30))
    targets += [("idle RSS ≤ 20 MiB", f"{idle_rss:.1f} MiB", idle_rss <= 20),
                ("RSS after the token workload ≤ 64 MiB", f"{after_token:.1f} MiB",
                 after_token <= 64)]
    if pending and pending[-1]["pending"] >= 100_000:
        rss = pending[-1]["rss_mib"]
        targets.append(("100,000 pending logins < 256 MiB", f"{rss:.0f} MiB", rss < 256))
    for workload, label in WORKLOADS:
        p99 = median(ratio(jc, workload, "p99_ms", peer(workload, "p99_ms")))
        targets.append((f"p99 {label} ≤ 0.5× peer", f"{p99:.2f}×", p99 <= 0.5))
    logins = median([r["servers"][jc]["login"]["per_sec"] for r in rounds])
    targets.append(("full logins ≥ 300/s on 2 cores (10× Keycloak's 15/s per vCPU)",
                    f"{logins:,.0f}/s", logins >= 300))
    out += ["", "| target | measured | met |", "|---|---|---|"]
    out += [f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in targets]
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the release jidconnect")
    parser.add_argument("--helper", required=True, help="the release bench_logins example")
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds per part: checks that everything works")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    # SIGTERM (e.g. from `timeout`) still stops everything the bench started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    profile = SMOKE if args.smoke else FULL
    if args.rounds:
        profile.rounds = args.rounds
    run_dir = BENCH / ".run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir()
    procs = Processes(run_dir)
    postgres = None
    try:
        log(f"machine: {machine()}")
        # One accepting XMPP user per parallel login: one request pends per JID at a time.
        bots = profile.login_concurrency
        prosody = Prosody(procs, run_dir, ["auth.localhost", "pg.localhost"], bots)
        bot = Bot(procs, prosody, bots)
        servers = [start_jidconnect(procs, run_dir, args.binary, "jidconnect",
                                    "auth.localhost", prosody.component_port, prosody.secret)]
        idle_rss = rss_mib(servers[0].pid)
        if not args.no_postgres:
            postgres = PostgreSQL(procs)
            servers.append(start_jidconnect(
                procs, run_dir, args.binary, "jidconnect-pg", "pg.localhost",
                prosody.component_port, prosody.secret, postgres.url,
                extra_pids=[postgres.process.pid]))
        servers.append(start_peer(procs))
        names = [s.name for s in servers]
        rounds = []
        for round_no in range(1, profile.rounds + 1):
            order = servers if round_no % 2 else list(reversed(servers))
            log(f"round {round_no}/{profile.rounds}: openssl speed")
            result = {"openssl": openssl_speed(profile.openssl_seconds), "servers": {}}
            for server in order:
                log(f"round {round_no}/{profile.rounds}: {server.name}")
                result["servers"][server.name] = server_round(
                    server, profile, args.helper, bot if server.name != "peer" else None,
                    run_dir, round_no)
            rounds.append(result)
        log("pending logins")
        pending = pending_logins(procs, run_dir, args.binary, args.helper, profile.pending)
        (run_dir / "results.json").write_text(json.dumps(
            {"rounds": rounds, "pending": pending, "idle_rss_mib": idle_rss}, indent=1))
        table = report(rounds, names, pending, idle_rss)
        (run_dir / "results.md").write_text(table)
        print(table)
        log(f"raw data: {run_dir}/results.json; logs: {run_dir}/*.log")
    except BenchError as error:
        log(f"FAILED: {error}")
        return 1
    finally:
        procs.stop_all()
        if postgres:
            postgres.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
