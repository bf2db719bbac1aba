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
a silent XMPP server (bench/sink.py); 6 several jidconnect instances on one PostgreSQL
(1, 2, 3), full logins and token requests spread round-robin over them.
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
    # Workload 6: the cluster sizes measured, each with `codes` logins and token requests.
    cluster_sizes: tuple = (1, 2, 3)


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

    def stop(self, processes):
        for process in processes:
            if process.poll() is None:
                kill_group(process, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill_group(process, signal.SIGKILL)
                process.wait()

    def stop_all(self):
        self.stop(list(reversed(self.started)))


def kill_group(process, sig):
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass  # it ended between poll() and now


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
    return sum(cpu_by_pid(root_pids).values())


def cpu_by_pid(root_pids):
    """CPU seconds of each process in the trees, with its children that ended (and were
    waited for: a PostgreSQL backend or autovacuum worker gone during a phase). Its
    differences over a phase count a process that ended in it from the first sample on."""
    cpu = {}
    for pid in process_tree(root_pids):
        named = stat_cpu(Path(f"/proc/{pid}/stat"), with_ended_children=True)
        if named:
            cpu[pid] = named[1]
    return cpu


def stat_cpu(stat, with_ended_children=False):
    """(name, utime + stime in seconds) from a /proc stat file, a process's or a thread's,
    and cutime + cstime (its children that ended) `with_ended_children`; None when it has
    gone."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    name = text[text.index("(") + 1:text.rindex(")")]
    ticks = int(fields[11]) + int(fields[12])
    if with_ended_children:
        ticks += int(fields[13]) + int(fields[14])
    return name, ticks / CLOCK_TICK


def is_client_backend(pid):
    """A PostgreSQL backend serving a connection: its title names the client's address."""
    try:
        return b"127.0.0.1(" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


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
        self.prosody = prosody
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
    """A private cluster on the server core, trust auth on loopback, data in a temp dir;
    `settings` are extra `-c name=value` options."""

    def __init__(self, procs, services, settings=()):
        versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
        bindir = versions[-1] / "bin"
        self.data = Path(tempfile.mkdtemp(prefix="jidconnect-bench-pg-"))
        # Removed by run() even if the cluster does not come up.
        services.append(self)
        shutil.chown(self.data, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(self.data / "db"),
                        "--auth=trust", "-U", "postgres"], check=True,
                       stdout=subprocess.DEVNULL)
        self.port = free_port()
        self.process = procs.start(
            "postgres", [*as_postgres, str(bindir / "postgres"), "-D", str(self.data / "db"),
                         "-p", str(self.port), "-k", str(self.data),
                         "-c", "listen_addresses=127.0.0.1",
                         *(arg for setting in settings for arg in ("-c", setting))],
            SERVER_CORE)
        wait_port(self.port, "PostgreSQL")
        # Retried: the port opens a moment before the server accepts connections.
        for _ in range(50):
            try:
                self.url = self.create_database("jidconnect")
                break
            except BenchError:
                time.sleep(0.2)
        else:
            raise BenchError("cannot create the PostgreSQL database; see postgres.log")

    def create_database(self, name):
        """A fresh database on this cluster; its URL."""
        created = subprocess.run(
            ["runuser", "-u", "postgres", "--", "psql", "-h", "127.0.0.1", "-p",
             str(self.port), "-qc", f"CREATE DATABASE {name}"], stderr=subprocess.DEVNULL)
        if created.returncode != 0:
            raise BenchError(f"cannot create the PostgreSQL database {name}")
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

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

    @property
    def bases(self):
        return [self.base]


def start_jidconnect(procs, run_dir, binary, name, component, xmpp_port, secret,
                     database_url=None, extra_pids=()):
    """jidconnect on the server core with the bench's limits and one trusted client."""
    home = run_dir / name
    home.mkdir()
    port = free_port()
    env = write_config(home, f"http://127.0.0.1:{port}", port,
                       database_url or f"sqlite://{home}/jidconnect.db", component, xmpp_port,
                       secret)
    credentials = add_client(binary, env)
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
                  login_args=JIDCONNECT_LOGIN_ARGS, extra_pids=list(extra_pids))


# One bot per parallel login: jidconnect keeps one request pending per JID.
JIDCONNECT_LOGIN_ARGS = ["--scope", "openid", "--jid", "bot{w}@localhost"]


def write_config(home, issuer, port, database_url, component, xmpp_port, secret):
    """home/jidconnect.toml with the bench's limits; the environment that selects it."""
    # Limits opened up: one bot JID answers every login, all from 127.0.0.1.
    (home / "jidconnect.toml").write_text(f"""
issuer = "{issuer}"
listen = "127.0.0.1:{port}"
database_url = "{database_url}"
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
login_pages_per_minute = 4000000000
max_pending = 200000
# Every pending login comes from one network (127.0.0.1) and one client: the default 10%
# share would refuse the pending-logins workload's 20,001st ("JID form answered 429").
max_pending_share_percent = 100
[oidc]
code_ttl_secs = 600
""")
    return {"JIDCONNECT_CONFIG": str(home / "jidconnect.toml")}


def add_client(binary, env):
    """The bench's trusted client, through the CLI: its id and secret."""
    added = subprocess.run(
        [binary, "client", "add", "--name", "Bench", "--redirect-uri", REDIRECT_URI,
         "--trusted", "--always-refresh", "--json"],
        env={**os.environ, **env}, check=True, capture_output=True, text=True)
    return json.loads(added.stdout)


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


@dataclass
class WrkRun:
    """One wrk process under way (see start_wrk)."""
    process: subprocess.Popen
    label: str
    mode: str
    seconds: int
    times: Path = None


def start_wrk(server, base, path, seconds, mode, inputs, output, connections):
    basic = base64.b64encode(f"{server.client_id}:{server.client_secret}".encode()).decode()
    env = {**os.environ, "BENCH_MODE": mode, "BENCH_BASIC": basic,
           "BENCH_REDIRECT_URI": REDIRECT_URI}
    times = None
    if inputs:
        times = inputs.with_name(f"{inputs.name}-{mode}-times")
        env["BENCH_INPUT"] = str(inputs)
        env["BENCH_TIMES"] = str(times)
    if output:
        env["BENCH_OUTPUT"] = str(output)
    process = subprocess.Popen(
        ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
         "--timeout", "10s", "-s", str(BENCH / "wrk" / "oidc.lua"), base + path],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return WrkRun(process, f"{server.name} {mode} {base}{path}", mode, seconds, times)


def finish_wrk(run):
    """wrk's JSON line, checked, plus "answered" and "active_seconds": the responses and
    the time they took (for single-use inputs, until they ran out)."""
    try:
        out, err = run.process.communicate(timeout=run.seconds + 60)
    except subprocess.TimeoutExpired:
        run.process.kill()
        raise BenchError(f"wrk {run.label} did not finish") from None
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if run.process.returncode != 0 or not lines:
        raise BenchError(f"wrk {run.label} failed: {out}{err}")
    stats = json.loads(lines[-1])
    # The very last request of a single-use run may carry the "exhausted" marker.
    allowed = 1 if run.mode in ("code", "refresh") else 0
    if stats["socket_errors"] or stats["non2xx"] > allowed or stats["requests"] == 0:
        raise BenchError(f"wrk {run.label}: errors in {stats}")
    if run.times and run.times.exists():
        # The single-use inputs ran out before -d: the rate is over the time they lasted.
        answered, seconds = run.times.read_text().split()
        stats["answered"], stats["active_seconds"] = int(answered), float(seconds)
    else:
        stats["answered"], stats["active_seconds"] = stats["requests"], stats["seconds"]
    return stats


def wrk(server, path, seconds, mode="get", inputs=None, output=None):
    """One wrk run against the server; its CPU and RSS from /proc around it."""
    cpu_before = server.cpu()
    stats = finish_wrk(start_wrk(server, server.base, path, seconds, mode, inputs, output,
                                 CONNECTIONS))
    cpu = server.cpu() - cpu_before
    stats["req_s"] = stats["answered"] / stats["active_seconds"]
    stats["cores"] = cpu / stats["active_seconds"]
    stats["cpu_us"] = cpu * 1e6 / stats["requests"]
    stats["rss_mib"] = rss_mib(server.pid)
    return stats


def mint_codes(helper, server, count, concurrency, codes_file):
    """Full logins through the real flow (workload 3); their codes feed workload 2."""
    bases = [arg for base in server.bases for arg in ("--base", base)]
    result = subprocess.run(
        ["taskset", "-c", LOAD_CORE, helper, *bases,
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


class Cluster:
    """Workload 6: jidconnect instances on one PostgreSQL database, as docs/deployment.md
    runs them: one shared config (same issuer, [xmpp] settings and keys), each process with
    its own JIDCONNECT_LISTEN, JIDCONNECT_INSTANCE_NAME and (with `direct`, the default)
    JIDCONNECT_CLUSTER_URL, all on the server core. Without `direct`, requests are handed
    to the leader through the database (for builds before cluster_url, and to compare)."""

    name = "cluster"
    authorize_path = "/authorize"
    token_path = "/token"
    login_args = JIDCONNECT_LOGIN_ARGS

    def __init__(self, procs, home, binary, database_url, postgres_pid, prosody, direct=True):
        self.procs, self.home, self.binary = procs, home, binary
        self.direct = direct
        self.postgres_pid = postgres_pid
        home.mkdir()
        # The issuer is the "balancer" the driver plays: nothing listens there, so a request
        # that escaped the round-robin (an absolute URL not rewritten) fails loudly.
        self.env = write_config(home, f"http://127.0.0.1:{free_port()}", free_port(),
                                database_url, "cluster.localhost", prosody.component_port,
                                prosody.secret)
        credentials = add_client(binary, self.env)
        self.client_id = credentials["client_id"]
        self.client_secret = credentials["client_secret"]
        self.instances = []  # (name, process, base)

    @property
    def bases(self):
        return [base for _, _, base in self.instances]

    def cpu(self):
        return self.jidconnect_cpu() + cpu_seconds([self.postgres_pid])

    def jidconnect_cpu(self):
        return cpu_seconds([process.pid for _, process, _ in self.instances])

    def add_instance(self):
        name = f"{self.home.name}-{len(self.instances) + 1}"
        port = free_port()
        env = {**self.env, "JIDCONNECT_LISTEN": f"127.0.0.1:{port}",
               "JIDCONNECT_INSTANCE_NAME": name}
        if self.direct:
            env["JIDCONNECT_CLUSTER_URL"] = f"http://127.0.0.1:{port}"
        process = self.procs.start(name, [self.binary, "serve"], SERVER_CORE, env=env)
        wait_port(port, name)
        self.instances.append((name, process, f"http://127.0.0.1:{port}"))
        self.wait_for_leader()

    def wait_for_leader(self):
        """Until every /healthz names the same leader (one of them) and XMPP connected."""
        names = {name for name, _, _ in self.instances}
        deadline = time.monotonic() + 30
        while True:
            states = [health(base) for base in self.bases]
            leaders = {state.get("leader") for state in states}
            if (all(state.get("xmpp") == "connected" for state in states)
                    and len(leaders) == 1 and leaders <= names
                    and sum(bool(state.get("is_leader")) for state in states) == 1):
                return
            if time.monotonic() > deadline:
                raise BenchError(f"{self.home.name}: no single connected leader: {states}")
            time.sleep(0.2)

    def stop(self):
        self.procs.stop([process for _, process, _ in self.instances])


def token_spread(cluster, codes_file, seconds, work):
    """Workload 2 over the cluster: the codes shared out, one wrk per instance, at once,
    CONNECTIONS in all (so the offered concurrency does not grow with the instances)."""
    codes = [line for line in codes_file.read_text().splitlines() if line]
    count = len(cluster.instances)
    runs = []
    cpu_before = cluster.cpu()
    for i, base in enumerate(cluster.bases):
        share = work / f"codes-{i + 1}"
        share.write_text("\n".join(codes[i::count]) + "\n")
        connections = CONNECTIONS // count + (i < CONNECTIONS % count)
        runs.append(start_wrk(cluster, base, cluster.token_path, seconds, "code", share,
                              work / f"tokens-{i + 1}", connections))
    stats = [finish_wrk(run) for run in runs]
    cpu = cluster.cpu() - cpu_before
    requests = sum(s["requests"] for s in stats)
    # They start together; the slowest instance's time bounds the whole run.
    active = max(s["active_seconds"] for s in stats)
    return {"req_s": sum(s["answered"] for s in stats) / active, "requests": requests,
            "cpu_us": cpu * 1e6 / requests, "cores": cpu / active,
            "p99_ms": max(s["p99_ms"] for s in stats)}


def cluster_rounds(procs, run_dir, binary, helper, postgres, prosody, profile, direct):
    """Workload 6, per round a fresh database and cluster grown 1 → 2 → 3 instances: full
    logins (each request to the next instance) and token requests at each size; `direct`:
    the instances hand requests to the leader over HTTP (`cluster_url`)."""
    rounds = []
    for round_no in range(1, profile.rounds + 1):
        cluster = Cluster(procs, run_dir / f"cluster{round_no}", binary,
                          postgres.create_database(f"cluster{round_no}"),
                          postgres.process.pid, prosody, direct)
        by_size = {}
        try:
            for size in profile.cluster_sizes:
                while len(cluster.instances) < size:
                    cluster.add_instance()
                log(f"cluster round {round_no}/{profile.rounds}: {size} instance(s)")
                work = cluster.home / f"size{size}"
                work.mkdir()
                cpu_before, own_before = cluster.cpu(), cluster.jidconnect_cpu()
                login = mint_codes(helper, cluster, profile.codes, profile.login_concurrency,
                                   work / "codes")
                cpu = cluster.cpu() - cpu_before
                login["cpu_us"] = cpu * 1e6 / login["logins"]
                login["jidconnect_cpu_us"] = ((cluster.jidconnect_cpu() - own_before) * 1e6
                                              / login["logins"])
                login["postgres_cpu_us"] = login["cpu_us"] - login["jidconnect_cpu_us"]
                login["cores"] = cpu / login["seconds"]
                by_size[size] = {"login": login,
                                 "token": token_spread(cluster, work / "codes",
                                                       profile.token_seconds, work)}
        finally:
            cluster.stop()
        rounds.append(by_size)
    return rounds


def cluster_report(rounds, direct):
    """Markdown: medians over rounds per cluster size, and each size's CPU per login against
    one instance's, taken within each round."""
    def values(size, workload, key):
        return median([r[size][workload][key] for r in rounds])

    first = rounds[0][min(rounds[0])]["login"]
    out = ["Several instances on one PostgreSQL (workload 6): every instance, PostgreSQL "
           f"included, on core {SERVER_CORE}; Prosody, the bots, the login driver and wrk on "
           f"core {LOAD_CORE}. Logins: {first['logins']:,} per size and round, "
           f"{first['concurrency']} at once, each request to the next instance in turn. Token: "
           f"authorization_code with those codes, one wrk per instance, {CONNECTIONS} "
           "connections in all. Server CPU: all jidconnect processes + PostgreSQL. Requests "
           "reach the leader " + ("over HTTP (each instance's cluster_url)" if direct
                                 else "through the database (no cluster_url)")
           + f". Medians over {len(rounds)} round(s).", "",
           "| instances | logins/s | login p50 / p99 ms | server CPU µs/login "
           "| of which jidconnect / PostgreSQL | cores (logins) "
           "| token req/s | server CPU µs/token req | cores (token) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for size in rounds[0]:
        out.append(
            f"| {size} | {values(size, 'login', 'per_sec'):,.0f} "
            f"| {values(size, 'login', 'p50_ms'):.1f} / {values(size, 'login', 'p99_ms'):.1f} "
            f"| {values(size, 'login', 'cpu_us'):,.0f} "
            f"| {values(size, 'login', 'jidconnect_cpu_us'):,.0f} "
            f"/ {values(size, 'login', 'postgres_cpu_us'):,.0f} "
            f"| {values(size, 'login', 'cores'):.2f} "
            f"| {values(size, 'token', 'req_s'):,.0f} | {values(size, 'token', 'cpu_us'):,.0f} "
            f"| {values(size, 'token', 'cores'):.2f} |")
    one = min(rounds[0])
    for size in rounds[0]:
        if size != one:
            ratios = [r[size]["login"]["cpu_us"] / r[one]["login"]["cpu_us"] for r in rounds]
            out.append(f"\nServer CPU per login, {size} instances ÷ {one}, per round: "
                       + ", ".join(f"{x:.2f}" for x in ratios)
                       + f"; median {median(ratios):.2f}×")
    return "\n".join(out) + "\n"


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


def server_rounds(procs, run_dir, args, profile, bot, postgres):
    """Workloads 1–4: the servers side by side, in rounds."""
    servers = [start_jidconnect(procs, run_dir, args.binary, "jidconnect",
                                "auth.localhost", bot.prosody.component_port,
                                bot.prosody.secret)]
    idle_rss = rss_mib(servers[0].pid)
    if postgres:
        servers.append(start_jidconnect(
            procs, run_dir, args.binary, "jidconnect-pg", "pg.localhost",
            bot.prosody.component_port, bot.prosody.secret, postgres.url,
            extra_pids=[postgres.process.pid]))
    servers.append(start_peer(procs))
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
    return {"rounds": rounds, "names": [s.name for s in servers], "idle_rss_mib": idle_rss}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the release jidconnect")
    parser.add_argument("--helper", required=True, help="the release bench_logins example")
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds per part: checks that everything works")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--no-postgres", action="store_true",
                        help="SQLite only (and so no cluster workload)")
    parser.add_argument("--only", choices=["cluster"],
                        help="run just this part (cluster: workload 6)")
    parser.add_argument("--handoff", choices=["direct", "queued"], default="direct",
                        help="workload 6: instances hand requests to the leader over HTTP "
                             "(cluster_url, the default) or through the database")
    args = parser.parse_args()
    if args.only == "cluster" and args.no_postgres:
        parser.error("the cluster runs on PostgreSQL: drop --no-postgres")
    profile = SMOKE if args.smoke else FULL
    if args.rounds:
        profile.rounds = args.rounds
    run_dir = BENCH / ".run"

    def work(procs, services):
        postgres = None
        # One accepting XMPP user per parallel login: one request pends per JID at a time.
        bots = profile.login_concurrency
        prosody = Prosody(procs, run_dir,
                          ["auth.localhost", "pg.localhost", "cluster.localhost"], bots)
        bot = Bot(procs, prosody, bots)
        if not args.no_postgres:
            postgres = PostgreSQL(procs, services)
        results, tables = {}, []
        if args.only != "cluster":
            results = server_rounds(procs, run_dir, args, profile, bot, postgres)
        if postgres:
            results["cluster"] = cluster_rounds(procs, run_dir, args.binary, args.helper,
                                                postgres, prosody, profile,
                                                args.handoff == "direct")
        if args.only != "cluster":
            # Last: the pending logins' server keeps them (and its core busy) until it stops.
            log("pending logins")
            results["pending"] = pending_logins(procs, run_dir, args.binary, args.helper,
                                                profile.pending)
            tables.append(report(results["rounds"], results["names"], results["pending"],
                                 results["idle_rss_mib"]))
        if postgres:
            tables.append(cluster_report(results["cluster"], args.handoff == "direct"))
        return results, "\n".join(tables)

    return run(run_dir, work)


def run(run_dir, work):
    """Runs `work(procs, services)` in a fresh `run_dir`. The work starts its processes
    through `procs`, adds what must be removed once they stopped (a PostgreSQL cluster's
    data) to `services`, and returns its results and their table: written to run_dir
    (results.json, results.md) and printed. Everything started is stopped whatever
    happens; the exit status is 1 when the work found something broken."""
    # SIGTERM (e.g. from `timeout`) still stops everything started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    procs = Processes(run_dir)
    services = []
    try:
        log(f"machine: {machine()}")
        results, table = work(procs, services)
        (run_dir / "results.json").write_text(json.dumps(results, indent=1))
        (run_dir / "results.md").write_text(table)
        print(table)
        log(f"raw data: {run_dir}/results.json; logs: {run_dir}/*.log")
    except BenchError as error:
        log(f"FAILED: {error}")
        return 1
    finally:
        try:
            procs.stop_all()
        finally:
            for service in services:
                service.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
