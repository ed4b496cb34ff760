"""devstack benchmarks: our figure beside a baseline from the same run. Standard library and psycopg."""

import argparse
import base64
import glob
import hashlib
import hmac
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg

LISTENER = (
    "import socket,sys,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
    "s.bind(('127.0.0.1',int(sys.argv[1])));s.listen(64);time.sleep(1e6)"
)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def control(project, profile="local"):
    state = json.load(open(f"{project}/.devstack/{profile}/state.json"))
    conn = UnixHTTPConnection(state["control_socket"])
    conn.request("GET", "/v1/status")
    return json.loads(conn.getresponse().read())


def free_ports(count):
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def remove_project(project, state_only=False):
    """Removes a temporary project (or only its `.devstack`), and the data devstack kept outside it: as root,
    when the postgres user cannot reach the project, `.devstack/<profile>/data/<service>` links to /var/lib/devstack."""
    for link in glob.glob(f"{project}/.devstack/*/data/*"):
        if os.path.islink(link):
            # The project's folder there: its services' data and their backups.
            shutil.rmtree(os.path.dirname(os.readlink(link)), ignore_errors=True)
    shutil.rmtree(f"{project}/.devstack" if state_only else project, ignore_errors=True)


def project_with(stack, profile):
    root = tempfile.mkdtemp(prefix="devstack-bench-")
    os.makedirs(f"{root}/stacks/default")
    os.makedirs(f"{root}/profiles")
    open(f"{root}/stacks/default/stack.yaml", "w").write(stack)
    open(f"{root}/profiles/local.yaml", "w").write(profile)
    return root


def ten_services(ports):
    lines = ["services:"]
    for i, port in enumerate(ports):
        lines += [
            f"  s{i}:",
            "    kind: process",
            f"    command: [python3, -c, \"{LISTENER}\", '{port}']",
            "    ports: [tcp]",
            "    health: { tcp: tcp }",
        ]
    profile = "ports: { base: 40000 }\nservices:\n" + "".join(
        f"  s{i}:\n    ports: {{ tcp: {port} }}\n" for i, port in enumerate(ports)
    )
    return "\n".join(lines) + "\n", profile


def time_devstack_up(devstack, project):
    """Foreground `up` from exec to the 'ready' summary line, then Ctrl-C."""
    start = time.perf_counter()
    proc = subprocess.Popen([devstack, "up"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "NO_COLOR": "1"}, text=True)
    for line in proc.stdout:
        if " ready in " in line:
            elapsed = time.perf_counter() - start
            break
    else:
        raise RuntimeError("devstack up never became ready")
    proc.send_signal(signal.SIGINT)
    proc.stdout.read()
    proc.wait(timeout=60)
    return elapsed


def time_shell_up(ports):
    """The same processes started by a shell script that polls their ports."""
    script = "set -e\n"
    for port in ports:
        script += f"python3 -c \"{LISTENER}\" {port} &\n"
    script += "for p in " + " ".join(map(str, ports)) + "; do until (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; do sleep 0.005; done; done\n"
    script += "echo ready\nwait\n"
    start = time.perf_counter()
    proc = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True)
    proc.stdout.readline()
    elapsed = time.perf_counter() - start
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return elapsed


def bench_up(devstack, runs):
    ports = free_ports(10)
    stack, profile = ten_services(ports)
    project = project_with(stack, profile)
    try:
        ours = [time_devstack_up(devstack, project) for _ in range(runs)]
        shell = [time_shell_up(ports) for _ in range(runs)]
    finally:
        remove_project(project)
    return statistics.median(ours), statistics.median(shell)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_crash_and_idle(devstack, runs, idle_seconds):
    port = free_ports(1)[0]
    stack = (
        "services:\n  victim:\n    kind: process\n"
        f"    command: [python3, -c, \"{LISTENER}\", '{port}']\n"
        "    ports: [tcp]\n    health: { tcp: tcp, interval: 1s }\n"
        "    restart: { policy: always, backoff: 20ms, max_backoff: 20ms, max_restarts: 1000 }\n"
    )
    project = project_with(stack, f"ports: {{ base: 40000 }}\nservices:\n  victim:\n    ports: {{ tcp: {port} }}\n")
    ports = free_ports(10)
    ten_stack, ten_profile = ten_services(ports)
    idle_project = project_with(ten_stack, ten_profile)
    try:
        subprocess.run([devstack, "up", "--detach"], cwd=project, check=True, capture_output=True)
        latencies = []
        for _ in range(runs):
            before = control(project)["services"][0]
            start = time.perf_counter()
            os.kill(before["pid"], signal.SIGKILL)
            while True:
                now = control(project)["services"][0]
                if now["phase"] == "healthy" and now.get("pid") not in (None, before["pid"]):
                    latencies.append(time.perf_counter() - start)
                    break
                time.sleep(0.002)
        subprocess.run([devstack, "down"], cwd=project, check=True, capture_output=True)

        subprocess.run([devstack, "up", "--detach"], cwd=idle_project, check=True, capture_output=True)
        status = control(idle_project)
        supervisor = status["supervisor_pid"]
        children = [s["pid"] for s in status["services"]]
        cpu_before = cpu_seconds(supervisor)
        time.sleep(idle_seconds)
        cpu = cpu_seconds(supervisor) - cpu_before
        rss = rss_mib(supervisor)
        children_rss = sum(rss_mib(pid) for pid in children)
        subprocess.run([devstack, "down"], cwd=idle_project, check=True, capture_output=True)
    finally:
        for p in (project, idle_project):
            subprocess.run([devstack, "down"], cwd=p, capture_output=True)
            remove_project(p)
    return statistics.median(latencies), max(latencies), cpu / idle_seconds * 100, rss, children_rss / len(children)


def postgres_bin():
    for folder in sorted(os.listdir("/usr/lib/postgresql"), key=int, reverse=True) if os.path.isdir("/usr/lib/postgresql") else []:
        return f"/usr/lib/postgresql/{folder}/bin"
    return os.path.dirname(shutil.which("postgres"))


def as_postgres_user(argv):
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + argv if os.getuid() == 0 else argv


def wait_ready(pidfile, timeout=30):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            lines = open(pidfile).read().split("\n")
            if len(lines) > 7 and lines[7].strip() == "ready":
                return
        except OSError:
            pass
        time.sleep(0.001)
    raise RuntimeError("postgres never became ready")


INITDB_OPTIONS = ["-U", "postgres", "-E", "UTF8", "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"]


def scratch_folder(prefix):
    """A temporary folder the postgres user can write in (Postgres runs as that user when this runs as root)."""
    root = tempfile.mkdtemp(prefix=prefix)
    os.chmod(root, 0o777)
    return root


def initdb(data):
    """`initdb` with the options devstack gives it."""
    subprocess.run(as_postgres_user([f"{postgres_bin()}/initdb", "-D", data] + INITDB_OPTIONS), check=True, capture_output=True)


class BarePostgres:
    """Bare `postgres` on an initdb'd folder of its own. Three ways to call it ready, strictest first:
    its own 'ready' status in postmaster.pid (nothing has connected yet); then a first connection answering
    `select 1`, found the way devstack finds it (that status, then psycopg over the socket); and
    `pg_ctl start -w`, the usual way to start a server and wait for it."""

    def __enter__(self):
        self.binaries = postgres_bin()
        self.root = scratch_folder("devstack-bench-pg-")
        self.data = f"{self.root}/data"
        initdb(self.data)
        self.port = free_ports(1)[0]
        self.options = ["-p", str(self.port), "-k", self.root, "-h", "127.0.0.1"]
        return self

    def start_to_ready(self):
        """Seconds to the 'ready' status, and to the first `select 1` answered, in one start."""
        start = time.perf_counter()
        proc = subprocess.Popen(as_postgres_user([f"{self.binaries}/postgres", "-D", self.data] + self.options),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(f"{self.data}/postmaster.pid")
        status = time.perf_counter() - start
        with psycopg.connect(host=self.root, port=self.port, user="postgres", dbname="postgres") as connection:
            connection.execute("select 1").fetchone()
        answered = time.perf_counter() - start
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        return status, answered

    def pg_ctl_start(self):
        pg_ctl = f"{self.binaries}/pg_ctl"
        start = time.perf_counter()
        subprocess.run(as_postgres_user([pg_ctl, "start", "-w", "-D", self.data, "-l", f"{self.root}/log", "-o", " ".join(self.options)]),
                       check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        subprocess.run(as_postgres_user([pg_ctl, "stop", "-m", "fast", "-D", self.data]), check=True, capture_output=True)
        return elapsed

    def __exit__(self, *_):
        shutil.rmtree(self.root, ignore_errors=True)


def time_bare_initdb():
    """`initdb` alone: the part of a cold `up` that is Postgres's own."""
    root = scratch_folder("devstack-bench-initdb-")
    try:
        start = time.perf_counter()
        initdb(f"{root}/data")
        return time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)


def time_bare_postgres(runs):
    with BarePostgres() as bare:
        return statistics.median([bare.start_to_ready()[0] for _ in range(runs)])


def postgres_only_project(profile):
    """A temporary project holding only Postgres, with the default stack's migrations and seed."""
    stack = "services:\n  db:\n    kind: postgres\n    database: app\n    supabase: true\n    migrations: migrations\n    seed: seed.sql\n"
    project = project_with(stack, profile)
    shutil.copytree(f"{repo_root()}/stacks/default/migrations", f"{project}/stacks/default/migrations")
    shutil.copy(f"{repo_root()}/stacks/default/seed.sql", f"{project}/stacks/default/seed.sql")
    return project


def bench_postgres(devstack, runs):
    """Cold `up`s (initdb, bootstrap, migrations, seed), each right after a bare initdb, then warm `up`s, each
    right after the bare starts: this machine's speed drifts over minutes, and each round sees the same drift. Medians."""
    project = postgres_only_project("ports: { base: %d }\n" % free_ports(1)[0])
    cold, bare_initdb, warm, status, answered, pg_ctl = [], [], [], [], [], []
    try:
        # The very first start on a machine: the initdb cache (this run's own, see main) is empty and gets filled.
        shutil.rmtree(os.environ["DEVSTACK_CACHE_DIR"], ignore_errors=True)
        os.sync()
        first = time_devstack_up(devstack, project)
        for _ in range(runs):
            subprocess.run([devstack, "down"], cwd=project, capture_output=True)
            remove_project(project, state_only=True)
            # Each timed step starts with nothing left to write: the folders removed before it are not its cost.
            os.sync()
            bare_initdb.append(time_bare_initdb())
            os.sync()
            cold.append(time_devstack_up(devstack, project))
        with BarePostgres() as bare:
            for _ in range(3 * runs):
                pg_ctl.append(bare.pg_ctl_start())
                ready, first_query = bare.start_to_ready()
                status.append(ready)
                answered.append(first_query)
                warm.append(time_devstack_up(devstack, project))
    finally:
        subprocess.run([devstack, "down"], cwd=project, capture_output=True)
        remove_project(project)
    return (statistics.median(cold), statistics.median(bare_initdb), first), statistics.median(warm), [statistics.median(times) for times in (status, answered, pg_ctl)]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def timed(argv, **kwargs):
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def bench_reset(devstack, runs, swap_only):
    """`devstack reset` as a whole process, back to back with a write before each, as a suite resets
    between short tests. The fast path (the changed tables put back in place) is the default;
    `swap_only` (fast_reset_rows: 0) measures the swap, beside the naive way and a plain
    CREATE DATABASE ... TEMPLATE. Returns the timings and which path each reset took."""
    profile = "ports: auto\n" + ("services:\n  db:\n    settings: { fast_reset_rows: 0 }\n" if swap_only else "")
    project = postgres_only_project(profile)
    figures = {}
    try:
        subprocess.run([devstack, "up", "--detach"], cwd=project, check=True, capture_output=True)
        state = json.load(open(f"{project}/.devstack/local/state.json"))
        port = state["children"]["db"]["ports"]["postgres"]
        password = json.load(open(f"{project}/.devstack/local/secrets"))["postgres_password"]
        psql = [shutil.which("psql") or f"{postgres_bin()}/psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
        env = {**os.environ, "PGPASSWORD": password}
        # The database `up` made was seeded on its own: the first reset swaps in a copy of the template.
        subprocess.run([devstack, "reset"], cwd=project, check=True, capture_output=True)
        write = psql + ["-d", "app", "-c", "insert into public.conversations (user_id, mode, prompt, answer) "
                        "values ('00000000-0000-0000-0000-000000000001', 'instant', 'bench', 'bench')"]
        # As a suite that resets between short tests: a write, then the reset, no pause.
        back_to_back, paths = [], {}
        for _ in range(runs):
            subprocess.run(write, env=env, check=True, capture_output=True)
            start = time.perf_counter()
            reset = subprocess.run([devstack, "reset", "--json"], cwd=project, check=True, capture_output=True, text=True)
            back_to_back.append(time.perf_counter() - start)
            path = json.loads(reset.stdout)[0]["details"]["path"]
            paths[path] = paths.get(path, 0) + 1
        figures["back_to_back"] = (statistics.median(back_to_back), percentile(back_to_back, 0.95))
        figures["paths"] = paths
        if swap_only:
            # As a suite whose tests take a moment: the next spare is cloned meanwhile.
            paused = []
            for _ in range(runs):
                subprocess.run(write, env=env, check=True, capture_output=True)
                time.sleep(0.3)
                paused.append(timed([devstack, "reset"], cwd=project))
            figures["paused"] = (statistics.median(paused), percentile(paused, 0.95))
            naive, plain = [], []
            for _ in range(max(5, runs // 5)):
                time.sleep(0.3)
                start = time.perf_counter()
                subprocess.run(psql + ["-d", "postgres", "-c", "drop database app with (force)"], env=env, check=True, capture_output=True)
                subprocess.run([devstack, "migrate"], cwd=project, check=True, capture_output=True)
                subprocess.run(psql + ["-d", "app", "-f", f"{project}/stacks/default/seed.sql"], env=env, check=True, capture_output=True)
                naive.append(time.perf_counter() - start)
                plain.append(timed(psql + ["-d", "postgres", "-c", "drop database if exists bench_copy with (force)",
                                            "-c", "create database bench_copy template app__devstack_template"], env=env))
            figures["naive"], figures["plain"] = statistics.median(naive), statistics.median(plain)
    finally:
        subprocess.run([devstack, "down"], cwd=project, capture_output=True)
        remove_project(project)
    return figures


LEASE_SUITE_CONFTEST = """
import json, os, subprocess, urllib.request
import pytest

@pytest.fixture(scope="session")
def leased_url():
    lease = json.load(urllib.request.urlopen(urllib.request.Request(os.environ["DEVSTACK_LEASE_URL"] + "/leases", method="POST")))
    return lease["url"]

@pytest.fixture
def database_url(request):
    if os.environ["BENCH_MODE"] == "leases":
        return request.getfixturevalue("leased_url")
    subprocess.run([os.environ["BENCH_DEVSTACK"], "reset"], cwd=os.environ["BENCH_PROJECT"], check=True, capture_output=True)
    return os.environ["DATABASE_URL"]
"""

# Each test writes and reads its own rows, then does 50 ms of its own work (an API call, a
# computation) while the database idles.
LEASE_SUITE_TESTS = """
import time
import psycopg
import pytest

@pytest.mark.parametrize("case", range(48))
def test_case(database_url, case):
    with psycopg.connect(database_url, autocommit=True) as connection:
        for n in range(10):
            connection.execute("insert into public.conversations (user_id, mode, prompt, answer) values "
                               "('00000000-0000-4000-8000-000000000001', 'instant', %s, 'bench')", (f"{case}-{n}",))
        mine = connection.execute("select count(*) from public.conversations where prompt like %s", (f"{case}-%",)).fetchone()[0]
        assert mine == 10
    time.sleep(0.05)
"""


def bench_leases(devstack, runs):
    """`devstack db lease` (in the supervisor, as a whole process, over HTTP) beside a plain CREATE DATABASE … TEMPLATE,
    and a 48-test suite on 8 pytest-xdist workers, each with its own lease, beside the same suite run serially with a
    reset before each test."""
    project = postgres_only_project("ports: auto\ndata: ephemeral\npostgres: { fsync: \"off\", synchronous_commit: \"off\" }\n"
                                    "services:\n  db:\n    settings: { lease_pool: 8 }\n")
    with open(f"{project}/stacks/default/stack.yaml", "a") as stack:
        stack.write("env:\n  DATABASE_URL: ${db.url}\n")
    try:
        subprocess.run([devstack, "up", "--detach"], cwd=project, check=True, capture_output=True)
        env = json.loads(subprocess.run([devstack, "env", "--format", "json"], cwd=project, check=True, capture_output=True, text=True).stdout)
        admin = psycopg.connect(env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres", autocommit=True)

        def pool_size():
            return admin.execute("select count(*) from pg_database where datname like 'app\\_\\_devstack\\_pool\\_%'").fetchone()[0]

        def wait_for_full_pool():
            for _ in range(600):
                if pool_size() >= 8:
                    return
                time.sleep(0.05)
            raise RuntimeError("the lease pool never filled")

        def lease_cli():
            start = time.perf_counter()
            out = subprocess.run([devstack, "db", "lease", "--json", "--pid", str(os.getpid())], cwd=project, check=True,
                                 capture_output=True, text=True).stdout
            return time.perf_counter() - start, json.loads(out)

        def lease_http():
            start = time.perf_counter()
            with urllib.request.urlopen(urllib.request.Request(env["DEVSTACK_LEASE_URL"] + "/leases", method="POST")) as response:
                lease = json.load(response)
            return time.perf_counter() - start, lease

        def release(lease):
            subprocess.run([devstack, "db", "release", lease["name"]], cwd=project, check=True, capture_output=True)

        lease_cli()  # the first lease starts the pool
        inside, whole, http, drained_inside = [], [], [], []
        # Bursts of 8 (one per xdist worker) from a full pool: what a suite's start sees.
        for _ in range(runs):
            wait_for_full_pool()
            for n in range(8):
                took, lease = lease_cli() if n % 2 == 0 else lease_http()
                (whole if n % 2 == 0 else http).append(took)
                inside.append(lease["milliseconds"] / 1000)
        # 50 in a row, each released by its own process before the next: the pool refills meanwhile.
        for _ in range(50):
            took, lease = lease_cli()
            drained_inside.append(lease["milliseconds"] / 1000)
            release(lease)
        plain = []
        for n in range(max(5, runs)):
            start = time.perf_counter()
            admin.execute(f"create database bench_copy_{n} template app__devstack_template")
            plain.append(time.perf_counter() - start)
            admin.execute(f"drop database bench_copy_{n}")
        admin.close()

        suite = tempfile.mkdtemp(prefix="devstack-bench-suite-")
        open(f"{suite}/conftest.py", "w").write(LEASE_SUITE_CONFTEST)
        open(f"{suite}/test_suite.py", "w").write(LEASE_SUITE_TESTS)

        def run_suite(mode, workers):
            argv = [devstack, "exec", "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark", suite]
            if workers:
                argv[6:6] = ["-n", str(workers)]
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=project, capture_output=True, text=True,
                                  env={**os.environ, "BENCH_MODE": mode, "BENCH_DEVSTACK": devstack, "BENCH_PROJECT": project})
            if done.returncode != 0 or "48 passed" not in done.stdout:
                raise RuntimeError(f"the {mode} suite failed:\n{done.stdout}\n{done.stderr}")
            return time.perf_counter() - start

        parallel = run_suite("leases", 8)
        parallel_two = run_suite("leases", 2)
        serial = run_suite("serial", 0)
        shutil.rmtree(suite, ignore_errors=True)
    finally:
        subprocess.run([devstack, "down"], cwd=project, capture_output=True)
        remove_project(project)
    return {
        "inside": (statistics.median(inside), percentile(inside, 0.95)), "whole": statistics.median(whole), "http": statistics.median(http),
        "drained": statistics.median(drained_inside), "plain": statistics.median(plain), "parallel": parallel, "parallel_two": parallel_two, "serial": serial,
    }


def bench_reset_pooled(devstack, runs=200):
    """Resets back to back while a client writes through the pooled URL (PgBouncer) as fast as it can: the
    client's errors (the target is none) and what a reset costs with the pool paused around it."""
    project = postgres_only_project("ports: auto\n")
    with open(f"{project}/stacks/default/stack.yaml") as stack:
        text = stack.read()
    with open(f"{project}/stacks/default/stack.yaml", "w") as stack:
        stack.write(text.replace("    supabase: true\n", "    supabase: true\n    pool: true\n") + "env:\n  DATABASE_POOL_URL: ${db.pool_url}\n")
    errors, writes, stop = [], [0], threading.Event()
    try:
        subprocess.run([devstack, "up", "--detach"], cwd=project, check=True, capture_output=True)
        env = json.loads(subprocess.run([devstack, "env", "--format", "json"], cwd=project, check=True, capture_output=True, text=True).stdout)

        def writer():
            try:
                connection = psycopg.connect(env["DATABASE_POOL_URL"], autocommit=True, prepare_threshold=None)
            except Exception as error:
                errors.append(f"connecting: {error!r}")
                return
            with connection:
                while not stop.is_set():
                    try:
                        connection.execute("insert into public.conversations (user_id, mode, prompt, answer) "
                                           "values ('00000000-0000-4000-8000-000000000001', 'instant', 'bench', 'bench')")
                        writes[0] += 1
                    except Exception as error:
                        errors.append(repr(error))

        thread = threading.Thread(target=writer)
        thread.start()
        # The writer is writing before the first reset: the resets are measured under its load.
        deadline = time.monotonic() + 30
        while writes[0] == 0 and not errors:
            if time.monotonic() > deadline:
                raise SystemExit("the writer through the pooled URL wrote nothing in 30 s")
            time.sleep(0.01)
        times = [timed([devstack, "reset"], cwd=project) for _ in range(runs)]
        stop.set()
        thread.join()
    finally:
        stop.set()
        subprocess.run([devstack, "down"], cwd=project, capture_output=True)
        remove_project(project)
    if errors:
        print(f"pooled writer: {len(errors)} errors, the first: {errors[0]}", file=sys.stderr)
    return len(errors), writes[0], statistics.median(times), percentile(times, 0.95)


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def copy_of_default_stack(profile_text):
    """The repository's default stack in a temporary project, with a `bench` profile."""
    root = tempfile.mkdtemp(prefix="devstack-bench-")
    shutil.copytree(f"{repo_root()}/stacks", f"{root}/stacks")
    os.makedirs(f"{root}/profiles")
    open(f"{root}/profiles/bench.yaml", "w").write(profile_text)
    return root


def initdb_cache_spares():
    return glob.glob(os.path.expanduser("~/.cache/devstack/initdb/*.spare"))


def bench_default_stack(devstack, runs):
    """`up --detach` of the default stack with persistent data, as the local profile runs it. Cold: a
    first start in a fresh checkout (no `.devstack`; bootstrap, migrations, seed, all five services),
    each right after a bare `initdb`, the baseline the target is a fraction of: once with the initdb
    cache's spare copy ready (made in the background after the previous first start settled; waited
    for, as a stack that ran a while would have made it) and once without it (the cache entry copied
    and synced in the start). Warm: the same project started again. Medians."""
    project = copy_of_default_stack("ports: auto\ndata: persistent\nvalues: { log_level: info, rate_limit: disabled }\n")
    cold, copied, bare_initdb, warm = [], [], [], []
    try:
        # The first fills the initdb cache if this run has not yet.
        subprocess.run([devstack, "up", "--detach", "--profile", "bench"], cwd=project, check=True, capture_output=True)
        subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, check=True, capture_output=True)
        for _ in range(runs):
            for spare_ready, times in ((True, cold), (False, copied)):
                remove_project(project, state_only=True)
                for _ in range(100):
                    if initdb_cache_spares() or not spare_ready:
                        break
                    time.sleep(0.05)
                if not spare_ready:
                    for spare in initdb_cache_spares():
                        shutil.rmtree(spare, ignore_errors=True)
                os.sync()
                bare_initdb.append(time_bare_initdb())
                os.sync()
                times.append(timed([devstack, "up", "--detach", "--profile", "bench"], cwd=project))
                subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, check=True, capture_output=True)
            warm.append(timed([devstack, "up", "--detach", "--profile", "bench"], cwd=project))
            subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, check=True, capture_output=True)
    finally:
        subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, capture_output=True)
        remove_project(project)
    return statistics.median(cold), statistics.median(copied), statistics.median(warm), statistics.median(bare_initdb)


def bench_remote(devstack, runs):
    """A laptop's commands against a staging host (the default stack, its control API on 127.0.0.2 over
    TLS with a token; the laptop a second checkout with a configuration folder of its own), beside the
    same commands on the host through its control socket. Medians of 10 × runs each."""
    port = free_ports(1)[0]
    profile = (f"ports: auto\ndata: persistent\nvalues: {{ log_level: info, rate_limit: disabled }}\n"
               f"host: {{ address: 127.0.0.2, port: {port} }}\n"
               "expose: { address: 127.0.0.2, services: [db, auth, gateway] }\n")
    host, laptop = copy_of_default_stack(profile), copy_of_default_stack(profile)
    configs = [tempfile.mkdtemp(prefix="devstack-bench-config-") for _ in range(2)]
    on_host = dict(os.environ, DEVSTACK_CONFIG_DIR=configs[0])
    on_laptop = dict(os.environ, DEVSTACK_CONFIG_DIR=configs[1])
    try:
        subprocess.run([devstack, "up", "--detach", "--profile", "bench"], cwd=host, env=on_host, check=True, capture_output=True)
        created = json.loads(subprocess.run([devstack, "token", "create", "bench", "--role", "test", "--json", "--profile", "bench"],
                                            cwd=host, env=on_host, check=True, capture_output=True, text=True).stdout)
        subprocess.run([devstack, "login", "bench", "--token", created["token"], "--ca-sha256", created["ca_sha256"]],
                       cwd=laptop, env=on_laptop, check=True, capture_output=True)
        figures = {}
        for command in (["status"], ["env"]):
            argv = [devstack] + command + ["--profile", "bench"]
            remote = statistics.median([timed(argv, cwd=laptop, env=on_laptop) for _ in range(10 * runs)])
            local = statistics.median([timed(argv, cwd=host, env=on_host) for _ in range(10 * runs)])
            figures[command[0]] = (remote, local)
        return figures
    finally:
        subprocess.run([devstack, "down", "--profile", "bench"], cwd=host, env=on_host, capture_output=True)
        remove_project(host)
        remove_project(laptop)
        for config in configs:
            shutil.rmtree(config, ignore_errors=True)


def bench_default_stack_ephemeral(devstack, runs):
    """`up --detach` of the default stack with throw-away data, as the ci profile runs it: every `up` is
    cold (a cluster copied from the warm initdb cache, bootstrap, migrations, seed, all five services),
    each right after a bare `initdb`, the baseline the target is a fraction of. Medians."""
    profile = ("ports: auto\ndata: ephemeral\nvalues: { log_level: info, rate_limit: disabled }\n"
               "postgres: { fsync: \"off\", synchronous_commit: \"off\", full_page_writes: \"off\" }\n")
    project = copy_of_default_stack(profile)
    cold, bare_initdb = [], []
    try:
        # The first fills the initdb cache if this run has not yet.
        subprocess.run([devstack, "up", "--detach", "--profile", "bench"], cwd=project, check=True, capture_output=True)
        subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, check=True, capture_output=True)
        for _ in range(runs):
            os.sync()
            bare_initdb.append(time_bare_initdb())
            os.sync()
            cold.append(timed([devstack, "up", "--detach", "--profile", "bench"], cwd=project))
            subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, check=True, capture_output=True)
    finally:
        subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, capture_output=True)
        remove_project(project)
    return statistics.median(cold), statistics.median(bare_initdb)


def bench_backup(devstack, runs, rows_to_load=1_000_000):
    """`devstack backup now` of the default stack's database holding a million rows (pgBackRest's full
    backup, then its verified restore: into a scratch folder up to the backup's restore point, started,
    every table counted and compared), beside a plain `pg_dump -Fc` + `pg_restore` of the same
    database into a new one, the restore checked by one count. Then `backup restore LABEL` in place
    (stop, safety backup, restore, replay, start again). Medians."""
    profile = ("ports: auto\ndata: persistent\nvalues: { log_level: info, rate_limit: disabled }\n"
               "backups: { full: weekly, diff: off }\n")
    project = copy_of_default_stack(profile)
    scratch = tempfile.mkdtemp(prefix="devstack-bench-dump-")
    bin_dir = postgres_bin()
    try:
        subprocess.run([devstack, "up", "--detach", "--profile", "bench", "db"], cwd=project, check=True, capture_output=True)
        # The schedule's first full backup, taken once the stack has settled, out of the way first.
        for _ in range(600):
            listing = json.loads(subprocess.run([devstack, "backup", "list", "--profile", "bench", "--json"], cwd=project, check=True,
                                                capture_output=True, text=True).stdout)
            if listing["backups"] and listing["status"].get("working") is None:
                break
            time.sleep(0.1)
        url = json.loads(subprocess.run([devstack, "env", "--profile", "bench", "--format", "json"], cwd=project, check=True,
                                        capture_output=True, text=True).stdout)["DATABASE_URL"]
        psql = [f"{bin_dir}/psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c"]
        subprocess.run(psql + [f"create table bench_rows as select n, md5(n::text) as body from generate_series(1, {rows_to_load}) as n"],
                       check=True, capture_output=True)
        size = int(subprocess.run(psql + ["select pg_database_size(current_database())"], check=True, capture_output=True, text=True).stdout)
        ours, verify_ms, dump_restore, in_place = [], [], [], []
        label = None
        for run in range(runs):
            start = time.perf_counter()
            record = json.loads(subprocess.run([devstack, "backup", "now", "--profile", "bench", "--json"], cwd=project, check=True,
                                               capture_output=True, text=True).stdout)
            ours.append(time.perf_counter() - start)
            assert record["verification"]["ok"], record
            verify_ms.append(record["verification"]["milliseconds"] / 1000)
            label = record["label"]
            dump = f"{scratch}/app.dump"
            copy = f"bench_restore_{run}"
            start = time.perf_counter()
            subprocess.run([f"{bin_dir}/pg_dump", "-Fc", "-f", dump, url], check=True, capture_output=True)
            subprocess.run(psql + [f"create database {copy}"], check=True, capture_output=True)
            target = url.rsplit("/", 1)[0] + f"/{copy}"
            subprocess.run([f"{bin_dir}/pg_restore", "-d", target, dump], check=False, capture_output=True)
            restored = subprocess.run([f"{bin_dir}/psql", target, "-qAt", "-c", "select count(*) from bench_rows"], check=True,
                                      capture_output=True, text=True).stdout.strip()
            dump_restore.append(time.perf_counter() - start)
            assert restored == str(rows_to_load), restored
            subprocess.run(psql + [f"drop database {copy}"], check=True, capture_output=True)
            os.remove(dump)
        for _ in range(max(1, runs // 2)):
            in_place.append(timed([devstack, "backup", "restore", label, "--profile", "bench", "--json"], cwd=project))
        return {"size": size, "ours": statistics.median(ours), "verify": statistics.median(verify_ms),
                "dump_restore": statistics.median(dump_restore), "in_place": statistics.median(in_place)}
    finally:
        subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, capture_output=True)
        remove_project(project)
        shutil.rmtree(scratch, ignore_errors=True)


def vm_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def post_json(url, body, headers=None, timeout=10):
    """Status, seconds taken, parsed answer (or None)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json", **(headers or {})})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read()
            return response.status, time.perf_counter() - start, json.loads(answer or b"null")
    except urllib.error.HTTPError as error:
        return error.code, time.perf_counter() - start, None
    except Exception:
        return 0, time.perf_counter() - start, None


def bench_soak(devstack, minutes):
    """The default stack left running under `restart: always` with light load (a sign-in and a chat,
    ten times a second) and a writer committing a row every 50 ms through DATABASE_URL. A first minute
    without faults is the baseline; then every 30 s one service's process is killed with SIGKILL,
    in turn (the gateway, the auth emulator, the pooler, Postgres). Availability, p99 latency,
    restarts, committed rows lost (the target is none) and the supervisor's RSS at start and end."""
    project = copy_of_default_stack("ports: auto\ndata: persistent\nrestart: always\nvalues: { log_level: info, rate_limit: disabled }\n")
    stop, phase = threading.Event(), ["baseline"]
    results, acknowledged = {"baseline": [], "soak": []}, set()
    try:
        subprocess.run([devstack, "up", "--detach", "--profile", "bench"], cwd=project, check=True, capture_output=True)
        env = json.loads(subprocess.run([devstack, "env", "--profile", "bench", "--format", "json"], cwd=project, check=True,
                                        capture_output=True, text=True).stdout)
        supervisor = json.load(open(f"{project}/.devstack/bench/state.json"))["pid"]
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as connection:
            connection.execute("create table soak_rows (id bigint generated always as identity primary key, at timestamptz default now())")
        rss_start = vm_rss_mib(supervisor)
        auth = env["SUPABASE_URL"] + "/auth/v1/token?grant_type=password"
        credentials = {"email": "alice@example.com", "password": "devstack-demo"}

        def client():
            while not stop.is_set():
                status, took, answer = post_json(auth, credentials, {"apikey": env["SUPABASE_ANON_KEY"]})
                results[phase[0]].append((status == 200, took))
                if status == 200:
                    token = answer["access_token"]
                    status, took, _ = post_json(env["GATEWAY_URL"] + "/v1/chat", {"message": "hello", "mode": "instant"},
                                                {"Authorization": f"Bearer {token}"})
                    results[phase[0]].append((status == 200, took))
                time.sleep(0.1)

        def writer():
            connection = None
            while not stop.is_set():
                try:
                    connection = connection or psycopg.connect(env["DATABASE_URL"], autocommit=True, connect_timeout=2)
                    acknowledged.add(connection.execute("insert into soak_rows default values returning id").fetchone()[0])
                except Exception:
                    connection = None
                time.sleep(0.05)

        threads = [threading.Thread(target=client), threading.Thread(target=writer)]
        for thread in threads:
            thread.start()
        time.sleep(60)
        phase[0] = "soak"
        victims, kills, deadline = ["gateway", "auth", "db-pool", "db"], 0, time.monotonic() + minutes * 60
        while time.monotonic() < deadline:
            time.sleep(30)
            status = json.loads(subprocess.run([devstack, "status", "--profile", "bench", "--json"], cwd=project, capture_output=True,
                                               text=True).stdout)
            victim = next(service for service in status["services"] if service["name"] == victims[kills % len(victims)])
            if victim.get("pid"):
                os.kill(victim["pid"], signal.SIGKILL)
                kills += 1
        time.sleep(5)
        stop.set()
        for thread in threads:
            thread.join()
        status = json.loads(subprocess.run([devstack, "status", "--profile", "bench", "--json"], cwd=project, capture_output=True,
                                           text=True).stdout)
        restarts = sum(service["restarts"] for service in status["services"])
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as connection:
            present = {row[0] for row in connection.execute("select id from soak_rows")}
        rss_end = vm_rss_mib(supervisor)
    finally:
        stop.set()
        subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, capture_output=True)
        remove_project(project)

    def summary(samples):
        ok = [took for passed, took in samples if passed]
        return len(ok) / max(1, len(samples)), percentile(ok, 0.99) if ok else 0.0, len(samples)

    return {"baseline": summary(results["baseline"]), "soak": summary(results["soak"]), "kills": kills, "restarts": restarts,
            "lost": len(acknowledged - present), "committed": len(acknowledged), "rss": (rss_start, rss_end)}


def wrk(url, seconds, script=None, threads=2, connections=32):
    """Requests per second, p50 and p99 in ms; every answer must be a success."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"] + (["-s", script] if script else []) + [url]
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw failed requests against {url}:\n{output}")

    def milliseconds(percentile):
        text = output.split(f" {percentile}%")[1].split()[0]
        value = float(text.rstrip("usm"))
        return value / 1000 if text.endswith("us") else value if text.endswith("ms") else value * 1000

    return float(output.split("Requests/sec:")[1].split()[0]), milliseconds(50), milliseconds(99)


def post_script(directory, body):
    """A wrk script that POSTs this JSON body."""
    script = f"{directory}/post.lua"
    open(script, "w").write(f"wrk.method = 'POST'\nwrk.body = {json.dumps(body)}\nwrk.headers['Content-Type'] = 'application/json'\n")
    return script


def inference_stack(devstack, extra=""):
    stack = "services:\n  instant:\n    kind: inference\n    model: instant\n" + extra
    project = project_with(stack, "ports: auto\n")
    subprocess.run([devstack, "up", "--detach"], cwd=project, check=True, capture_output=True)
    port = json.load(open(f"{project}/.devstack/local/state.json"))["ports"]["instant"]["http"]
    return project, port


def bench_inference(devstack, seconds):
    """Non-streaming chat completions under wrk, beside nginx serving a static body of the same size."""
    project, port = inference_stack(devstack)
    workdir = tempfile.mkdtemp(prefix="devstack-bench-nginx-")
    nginx = None
    try:
        body = json.dumps({"model": "instant", "messages": [{"role": "user", "content": "benchmark me"}]})
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
        answer = conn.getresponse().read()
        # The journal would grow by every request: keep it, it is part of what we measure.
        rps, _, p99 = wrk(f"http://127.0.0.1:{port}/v1/chat/completions", seconds, post_script(workdir, body))
        os.makedirs(f"{workdir}/html")
        open(f"{workdir}/html/answer.json", "wb").write(answer)
        (nginx_port,) = free_ports(1)
        conf = f"""
worker_processes {os.cpu_count()};
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  default_type application/json;
  server {{ listen 127.0.0.1:{nginx_port}; root {workdir}/html; }}
}}
"""
        open(f"{workdir}/nginx.conf", "w").write(conf)
        os.chmod(workdir, 0o755)
        nginx = subprocess.Popen(["nginx", "-c", f"{workdir}/nginx.conf", "-p", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not port_open(nginx_port) and time.time() < deadline:
            time.sleep(0.02)
        nginx_rps, _, nginx_p99 = wrk(f"http://127.0.0.1:{nginx_port}/answer.json", seconds)
        return (rps, p99), (nginx_rps, nginx_p99), len(answer)
    finally:
        if nginx:
            nginx.terminate()
            nginx.wait()
        subprocess.run([devstack, "down"], cwd=project, capture_output=True)
        remove_project(project)
        shutil.rmtree(workdir, ignore_errors=True)


def bench_streaming(devstack, delay_ms=20, streams=10):
    """Inter-token intervals of streamed answers, measured by the client, against the configured delay."""
    project, port = inference_stack(devstack, f"    token_delay: {delay_ms}ms\n")
    errors = []
    try:
        words = " ".join(f"w{i}" for i in range(40))
        body = json.dumps({"model": "instant", "stream": True, "messages": [{"role": "user", "content": words}]})
        for _ in range(streams):
            sock = socket.create_connection(("127.0.0.1", port))
            request = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
            sock.sendall(request.encode())
            arrivals, buffer = [], b""
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                now = time.perf_counter()
                buffer += data
                arrivals += [now] * buffer.count(b'"content":"')
                buffer = buffer[buffer.rfind(b"\n\n") + 2:] if b"\n\n" in buffer else buffer
            sock.close()
            intervals = [(b - a) * 1000 for a, b in zip(arrivals[1:], arrivals[2:])]
            errors += [abs(interval - delay_ms) for interval in intervals]
    finally:
        subprocess.run([devstack, "down"], cwd=project, capture_output=True)
        remove_project(project)
    return percentile(errors, 0.95), statistics.median(errors), len(errors)


def raw_bcrypt_rate(cost, seconds):
    """bcrypt verifications per second on every core, with Python's bcrypt (C), at the same cost."""
    code = (
        "import bcrypt,time,sys;cost=int(sys.argv[1]);h=bcrypt.hashpw(b'bench-password',bcrypt.gensalt(cost));"
        "n=0;end=time.time()+float(sys.argv[2])\nwhile time.time()<end:\n bcrypt.checkpw(b'bench-password',h);n+=1\nprint(n)"
    )
    workers = [subprocess.Popen(["python3", "-c", code, str(cost), str(seconds)], stdout=subprocess.PIPE, text=True) for _ in range(os.cpu_count())]
    return sum(int(worker.communicate()[0]) for worker in workers) / seconds


def bench_auth(devstack, cost, seconds):
    """Password sign-ins per second through the auth emulator at one bcrypt cost, wrk with 8 connections."""
    stack = (
        "services:\n  db:\n    kind: postgres\n    database: app\n    supabase: true\n"
        f"  auth:\n    kind: auth\n    depends_on: {{ db: healthy }}\n    bcrypt_cost: {cost}\n"
    )
    project = project_with(stack, "ports: auto\ndata: ephemeral\npostgres: { fsync: 'off', synchronous_commit: 'off' }\n")
    try:
        subprocess.run([devstack, "up", "--detach"], cwd=project, check=True, capture_output=True)
        port = json.load(open(f"{project}/.devstack/local/state.json"))["ports"]["auth"]["http"]
        body = json.dumps({"email": "bench@example.com", "password": "bench-password"})
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("POST", "/signup", body, {"content-type": "application/json"})
        assert conn.getresponse().status == 200
        url, script = f"http://127.0.0.1:{port}/token?grant_type=password", post_script(project, body)
        # Steady state: the first seconds open the pool's connections and overlap the background
        # build of the reset template that follows every up.
        wrk(url, 3, script, threads=1, connections=8)
        # One wrk thread: the generator takes as little of the two cores as it can.
        return wrk(url, seconds, script, threads=1, connections=8)
    finally:
        subprocess.run([devstack, "down"], cwd=project, capture_output=True)
        remove_project(project)


def _request(method, url, body=None, token=None):
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    conn.request(method, parsed.path + (f"?{parsed.query}" if parsed.query else ""), json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    data = response.read()
    assert response.status < 300, f"{method} {url}: {response.status} {data[:300]}"
    return json.loads(data) if data else {}


def _hs256(claims, secret):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest())


def _totp(secret, at):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at // 30)), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def bench_auth_tokens(devstack, seconds, verifications=20):
    """The default stack with its auth service signing ES256: the gateway verifying those tokens through
    the JWKS beside the same route with an HS256 token checked against the secret; and MFA TOTP verify
    latency beside `GET /user` with the same session."""
    project = copy_of_default_stack("ports: auto\ndata: ephemeral\nvalues: { log_level: info, rate_limit: disabled }\n")
    stack = f"{project}/stacks/default/stack.yaml"
    text = open(stack).read()
    open(stack, "w").write(text.replace("    external_anonymous_users_enabled: true\n", "    external_anonymous_users_enabled: true\n    signing_keys: ES256\n"))
    try:
        subprocess.run([devstack, "up", "--detach", "--profile", "bench"], cwd=project, check=True, capture_output=True)
        env = json.loads(subprocess.run([devstack, "env", "--format", "json", "--profile", "bench", "--service", "gateway"], cwd=project,
                                        check=True, capture_output=True, text=True).stdout)
        auth = env["SUPABASE_URL"]
        gateway = f"http://127.0.0.1:{env['PORT']}"
        session = _request("POST", f"{auth}/signup", {"email": "tokens@example.com", "password": "bench-password"})
        es256 = session["access_token"]
        claims = json.loads(base64.urlsafe_b64decode(es256.split(".")[1] + "=="))
        hs256 = _hs256(claims, env["SUPABASE_JWT_SECRET"])
        results = {}
        for name, token in (("ES256", es256), ("HS256", hs256)):
            workdir = tempfile.mkdtemp(prefix="devstack-bench-token-")
            script = f"{workdir}/get.lua"
            open(script, "w").write(f"wrk.headers['Authorization'] = 'Bearer {token}'\n")
            wrk(f"{gateway}/v1/conversations", 2, script, threads=1, connections=8)
            results[name] = wrk(f"{gateway}/v1/conversations", seconds, script, threads=1, connections=8)
            shutil.rmtree(workdir, ignore_errors=True)
        verify, user = [], []
        for index in range(verifications):
            signed_up = _request("POST", f"{auth}/signup", {"email": f"totp-{index}@example.com", "password": "bench-password"})
            token = signed_up["access_token"]
            factor = _request("POST", f"{auth}/factors", {"factor_type": "totp"}, token)
            challenge = _request("POST", f"{auth}/factors/{factor['id']}/challenge", {}, token)
            code = _totp(factor["totp"]["secret"], time.time())
            start = time.perf_counter()
            _request("POST", f"{auth}/factors/{factor['id']}/verify", {"challenge_id": challenge["id"], "code": code}, token)
            verify.append(time.perf_counter() - start)
            start = time.perf_counter()
            _request("GET", f"{auth}/user", None, token)
            user.append(time.perf_counter() - start)
        return results, statistics.median(verify), statistics.median(user)
    finally:
        subprocess.run([devstack, "down", "--profile", "bench"], cwd=project, capture_output=True)
        remove_project(project)


SECTIONS = ("validate", "postgres", "reset", "leases", "supervisor", "remote", "inference", "auth", "backup", "soak")


def big_stack_project(lines):
    """A project whose stack file is one process service followed by `lines` (already indented)."""
    return project_with("services:\n  a:\n    kind: process\n    command: [\"true\"]\n" + "".join(lines), "ports: auto\n")


def bench_validate(devstack, runs):
    """`devstack validate` of a 5 MB stack (200,000 env entries) and of 8,000 unknown keys, beside PyYAML's
    C parser reading the same file (the parse alone, none of the checks)."""
    import yaml

    results = []
    for name, lines, status in (
        ("env", ["    env:\n"] + [f"      VARIABLE_{i}: value-{i}\n" for i in range(200_000)], 0),
        ("unknown", [f"    unknown_key_{i}: 1\n" for i in range(8_000)], 2),
    ):
        project = big_stack_project(lines)
        try:
            path = f"{project}/stacks/default/stack.yaml"
            size = os.path.getsize(path)
            ours = []
            for _ in range(runs):
                start = time.perf_counter()
                result = subprocess.run([devstack, "validate"], cwd=project, capture_output=True)
                ours.append(time.perf_counter() - start)
                assert result.returncode == status, result.stderr[-500:]
            parse = []
            for _ in range(runs):
                start = time.perf_counter()
                with open(path) as file:
                    yaml.load(file, Loader=yaml.CSafeLoader)
                parse.append(time.perf_counter() - start)
            results.append((name, size, statistics.median(ours), statistics.median(parse)))
        finally:
            remove_project(project)
    return results


def main():
    parser = argparse.ArgumentParser()
    # Absolute: devstack runs from inside each temporary project.
    parser.add_argument("--devstack", required=True, type=os.path.abspath)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=int, default=30)
    parser.add_argument("--soak-minutes", type=int, default=10)
    parser.add_argument("only", nargs="*", help=f"sections to run, of {', '.join(SECTIONS)} (default: all)")
    args = parser.parse_args()
    if not os.access(args.devstack, os.X_OK):
        parser.error(f"--devstack {args.devstack}: not an executable file (build it first: swift build -c release)")
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section {', '.join(sorted(unknown))}: choose from {', '.join(SECTIONS)}")
    # The soak takes its own ten minutes and more: run only when named.
    wanted = set(args.only) or set(SECTIONS) - {"soak"}
    # An initdb cache of this run's own: figures do not depend on what the user's cache holds.
    cache = tempfile.mkdtemp(prefix="devstack-bench-cache-")
    os.environ["DEVSTACK_CACHE_DIR"] = cache
    try:
        run_sections(args, wanted)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run_sections(args, wanted):
    print(f"machine: {platform.node()} · {os.cpu_count()} cores · {platform.platform()} · {time.strftime('%Y-%m-%d %H:%M')}")
    rows = []
    if "postgres" in wanted:
        (cold, bare_initdb, first), warm, (bare, answered, pg_ctl) = bench_postgres(args.devstack, args.runs)
        rows.append(("up, Postgres only, warm (median)", f"{warm * 1000:.0f} ms", f"bare postgres start-to-ready {bare * 1000:.0f} ms", f"{warm / bare:.2f}x"))
        rows.append(("", "", f"bare postgres to a first select 1 answered {answered * 1000:.0f} ms", f"{warm / answered:.2f}x"))
        rows.append(("", "", f"pg_ctl start -w {pg_ctl * 1000:.0f} ms", f"{warm / pg_ctl:.2f}x"))
        rows.append(("up, Postgres only, cold (initdb cache warm): cluster, bootstrap, migrations, seed", f"{cold * 1000:.0f} ms", f"Postgres's initdb alone (bare) {bare_initdb * 1000:.0f} ms", f"{cold / bare_initdb:.2f}x"))
        rows.append(("up, Postgres only, first start on the machine (fills the initdb cache)", f"{first * 1000:.0f} ms", "", ""))
    if "validate" in wanted:
        for name, size, ours, parse in bench_validate(args.devstack, 3):
            what = "200,000 env entries" if name == "env" else "8,000 unknown keys (8,000 errors)"
            rows.append((f"validate, {size / 1e6:.1f} MB stack: {what} (median)", f"{ours * 1000:.0f} ms", f"PyYAML CSafeLoader parse alone {parse * 1000:.0f} ms", f"{ours / parse:.2f}x"))
    if "reset" in wanted:
        fast = bench_reset(args.devstack, 50, swap_only=False)
        swap = bench_reset(args.devstack, 50, swap_only=True)
        (fast50, fast95), (burst50, burst95), (p50, p95), plain = fast["back_to_back"], swap["back_to_back"], swap["paused"], swap["plain"]
        took = ", ".join(f"{count} {path}" for path, count in sorted(fast["paths"].items()))
        rows.append(("reset, whole process, back to back (a write, then reset), 50 runs: fast path", f"p50 {fast50 * 1000:.1f} ms, p95 {fast95 * 1000:.1f} ms ({took})", f"plain CREATE DATABASE … TEMPLATE (psql) {plain * 1000:.0f} ms", f"{plain / fast50:.1f}x faster"))
        rows.append(("the same, every reset a swap (fast_reset_rows: 0)", f"p50 {burst50 * 1000:.1f} ms, p95 {burst95 * 1000:.1f} ms", f"plain CREATE DATABASE … TEMPLATE (psql) {plain * 1000:.0f} ms", f"{plain / burst50:.1f}x faster"))
        rows.append(("reset (swap), whole process, 0.3 s of test between, 50 runs", f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms", f"naive (drop, create, bootstrap, migrate, seed) {swap['naive'] * 1000:.0f} ms", f"{swap['naive'] / p50:.1f}x faster"))
        pool_errors, pool_writes, pool50, pool95 = bench_reset_pooled(args.devstack)
        rows.append(("200 resets back to back, a client writing through the pooled URL at full speed", f"{pool_errors} client errors, {pool_writes:,} writes", "target: 0 errors", ""))
        rows.append(("reset with the pool paused around it, whole process", f"p50 {pool50 * 1000:.0f} ms, p95 {pool95 * 1000:.0f} ms", f"without a pool (above) p50 {fast50 * 1000:.1f} ms", f"{pool50 / fast50:.2f}x"))
    if "leases" in wanted:
        lease = bench_leases(args.devstack, args.runs)
        inside50, inside95 = lease["inside"]
        rows.append((f"lease from a warm pool, in the supervisor ({args.runs} bursts of 8)", f"p50 {inside50 * 1000:.1f} ms, p95 {inside95 * 1000:.1f} ms", f"CREATE DATABASE … TEMPLATE, the statement alone {lease['plain'] * 1000:.1f} ms", f"{lease['plain'] / inside50:.1f}x faster"))
        rows.append(("lease, whole `devstack db lease` process (median)", f"{lease['whole'] * 1000:.1f} ms", "IntegreSQL's published q50: 68 ms", f"{0.068 / lease['whole']:.1f}x faster"))
        rows.append(("lease over HTTP (POST $DEVSTACK_LEASE_URL/leases, median)", f"{lease['http'] * 1000:.1f} ms", "", ""))
        rows.append(("lease, 50 in a row, each released by `devstack db release` before the next, in the supervisor", f"p50 {lease['drained'] * 1000:.1f} ms", f"CREATE DATABASE … TEMPLATE {lease['plain'] * 1000:.1f} ms", f"{lease['plain'] / lease['drained']:.1f}x faster"))
        rows.append(("48-test suite, pytest -n 8, a lease per worker", f"{lease['parallel']:.2f} s", f"same suite serially, devstack reset before each test: {lease['serial']:.2f} s", f"{lease['serial'] / lease['parallel']:.2f}x"))
        rows.append(("48-test suite, pytest -n 2, a lease per worker", f"{lease['parallel_two']:.2f} s", "", f"{lease['serial'] / lease['parallel_two']:.2f}x"))
    if "supervisor" in wanted:
        ours, shell = bench_up(args.devstack, args.runs)
        rows.append(("up: 10 services to all-healthy (median)", f"{ours * 1000:.0f} ms", f"shell script + port polling {shell * 1000:.0f} ms", f"{ours / shell:.2f}x"))
        cold, copied, warm, initdb_before_cold = bench_default_stack(args.devstack, args.runs)
        if "postgres" not in wanted:
            bare = time_bare_postgres(args.runs)
        rows.append(("up, default stack (5 services), warm (median)", f"{warm * 1000:.0f} ms", f"bare postgres start-to-ready {bare * 1000:.0f} ms", f"{warm / bare:.2f}x"))
        rows.append(("up, default stack, cold, persistent data (as local; a fresh checkout, the cache's spare ready)", f"{cold * 1000:.0f} ms", f"Postgres's initdb alone (bare) {initdb_before_cold * 1000:.0f} ms", f"{cold / initdb_before_cold:.2f}x"))
        rows.append(("the same, no spare ready (the cache entry copied and synced in the start)", f"{copied * 1000:.0f} ms", f"Postgres's initdb alone (bare) {initdb_before_cold * 1000:.0f} ms", f"{copied / initdb_before_cold:.2f}x"))
        cold_ephemeral, initdb_alone = bench_default_stack_ephemeral(args.devstack, args.runs)
        rows.append(("up, default stack, cold, data: ephemeral (as ci; initdb cache warm)", f"{cold_ephemeral * 1000:.0f} ms", f"Postgres's initdb alone (bare) {initdb_alone * 1000:.0f} ms", f"{cold_ephemeral / initdb_alone:.2f}x"))
    if "remote" in wanted:
        for command, (remote, local) in bench_remote(args.devstack, args.runs).items():
            rows.append((f"`{command}` from a laptop: the host's control API over TLS with a token (median)", f"{remote * 1000:.1f} ms",
                         f"`{command}` on the host, through its control socket {local * 1000:.1f} ms", f"{remote / local:.2f}x"))
    if "inference" in wanted:
        (rps, p99), (nginx_rps, nginx_p99), size = bench_inference(args.devstack, 10)
        rows.append((f"mock inference, non-streaming chat ({size} B answer), wrk -c32", f"{rps:,.0f} req/s, p99 {p99:.1f} ms", f"nginx static file, same size: {nginx_rps:,.0f} req/s, p99 {nginx_p99:.1f} ms", f"{rps / nginx_rps:.2f}x"))
        p95_error, median_error, count = bench_streaming(args.devstack)
        rows.append((f"streaming, token_delay 20 ms ({count} intervals)", f"|interval - 20 ms| p95 {p95_error:.2f} ms, median {median_error:.2f} ms", "target: p95 within 2 ms", ""))
    if "auth" in wanted:
        for cost in (4, 10):
            rate, p50, p99 = bench_auth(args.devstack, cost, 10)
            raw = raw_bcrypt_rate(cost, 5)
            rows.append((f"auth sign-in, bcrypt cost {cost}, wrk -c8", f"{rate:,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms", f"raw bcrypt verify, all cores: {raw:,.0f}/s", f"{rate / raw:.2f}x"))
        tokens, totp_verify, get_user = bench_auth_tokens(args.devstack, 10)
        (es_rps, es_p50, _), (hs_rps, hs_p50, _) = tokens["ES256"], tokens["HS256"]
        rows.append(("gateway, ES256 token through the JWKS, wrk -c8", f"{es_rps:,.0f} req/s, p50 {es_p50:.1f} ms", f"same route, HS256 token: {hs_rps:,.0f} req/s, p50 {hs_p50:.1f} ms", f"{es_rps / hs_rps:.2f}x"))
        rows.append(("MFA TOTP verify (challenge answered, session raised), median", f"{totp_verify * 1000:.1f} ms", f"GET /user, same session: {get_user * 1000:.1f} ms", f"{totp_verify / get_user:.2f}x"))
    if "supervisor" in wanted:
        p50, worst, cpu, rss, child_rss = bench_crash_and_idle(args.devstack, 10, args.idle_seconds)
        rows.append(("crash → healthy again (kill -9, backoff fixed 20ms)", f"p50 {p50 * 1000:.0f} ms, max {worst * 1000:.0f} ms", "configured backoff 16–24 ms", ""))
        rows.append((f"supervisor idle, {args.idle_seconds}s, 10 services", f"CPU {cpu:.2f}% · RSS {rss:.1f} MiB", f"one trivial python service: RSS {child_rss:.1f} MiB", ""))
    if "backup" in wanted:
        backup = bench_backup(args.devstack, 3)
        rows.append((f"backup now of the default stack's database ({backup['size'] / 2**20:.0f} MiB), backup + verified restore (median)",
                     f"{backup['ours']:.2f} s (verification {backup['verify']:.2f} s)", f"pg_dump -Fc + pg_restore into a new database: {backup['dump_restore']:.2f} s",
                     f"{backup['ours'] / backup['dump_restore']:.2f}x"))
        rows.append(("backup restore LABEL in place (stop, restore --delta, replay, start; unprotected: no safety backup)", f"{backup['in_place']:.2f} s", "", ""))
    if "soak" in wanted:
        soak = bench_soak(args.devstack, args.soak_minutes)
        (base_available, base_p99, base_count), (available, p99, count) = soak["baseline"], soak["soak"]
        rows.append((f"soak {args.soak_minutes} min, a service killed every 30 s ({soak['kills']} kills, {soak['restarts']} restarts): availability",
                     f"{available * 100:.2f}% of {count:,} requests", f"the first minute, no kills: {base_available * 100:.2f}% of {base_count:,}", ""))
        rows.append(("soak: p99 latency of a sign-in or a chat", f"{p99 * 1000:.0f} ms", f"no kills: {base_p99 * 1000:.0f} ms", f"{p99 / max(base_p99, 1e-9):.2f}x"))
        rows.append(("soak: committed rows lost (Postgres killed too)", f"{soak['lost']} of {soak['committed']:,}", "target: 0", ""))
        rows.append(("soak: supervisor RSS, start → end", f"{soak['rss'][0]:.1f} → {soak['rss'][1]:.1f} MiB", "target: flat", ""))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in [("benchmark", "devstack", "baseline (same run)", "ratio")] + rows:
        print("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)))


if __name__ == "__main__":
    main()
