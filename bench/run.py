#!/usr/bin/env python3
"""Load benchmark of the robots server: the release binary, a generated
population of tokens, and wrk over loopback.

Every scenario runs in rounds, each right after a round of a baseline route
that does no work (/healthz) on the same server, and is reported as a ratio
to it, because absolute figures depend on the machine (and drift with it).
For each: requests/s, p50 and p99 latency (wrk), the server's and wrk's CPU
time per request (/proc/PID/stat, getrusage), and the server's peak RSS
(VmHWM).

On a virtual machine the hypervisor may run other guests on our cores: the
time it takes shows as steal in /proc/stat. A pair of rounds (baseline and
scenario) during which steal exceeded --max-steal is measured again, up to
--retries times, and the least disturbed pair is kept: a pair the
neighbours disturbed measured them more than the server.

An optional feature with a cost target (metrics) is measured differently:
the same scenario on a server with it and one without, in alternating
rounds, reported as a ratio to "off".
Writes the results as Markdown to docs/PERFORMANCE.md (or --out).
"""

import argparse
import base64
import json
import os
import platform
import resource
import re
import secrets as secret_values
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROBOTS = os.path.join(ROOT, "target", "release", "robots")
SHAPES = os.path.join(ROOT, "target", "release", "examples", "exchange_shapes")
SEED = os.path.join(ROOT, "target", "release", "examples", "seed_benchmark")
LUA = os.path.join(ROOT, "bench", "lua")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_times():
    """The whole machine's CPU time (/proc/stat), and the part the hypervisor took (steal)."""
    with open("/proc/stat") as f:
        # user nice system idle iowait irq softirq steal (guest time is within user).
        fields = [int(value) for value in f.readline().split()[1:9]]
    return sum(fields), fields[7] if len(fields) == 8 else 0


def steal_share(before, after):
    """The share of the machine's time the hypervisor took between two readings."""
    total = after[0] - before[0]
    return (after[1] - before[1]) / total if total > 0 else 0.0


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# Every process started here, so that each exit path (an error, a timeout,
# Ctrl-C, SIGTERM) stops them all: a server left running would skew the next
# measurement on this machine.
STARTED = []


def stop_all():
    for process in STARTED:
        if process.poll() is None:
            process.terminate()
    for process in STARTED:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start(argv, **options):
    process = subprocess.Popen(argv, **options)
    STARTED.append(process)
    return process


def run_to_end(argv, timeout, **options):
    """Like subprocess.run(check=True), with the process killed on every way out."""
    process = start(argv, **options)
    try:
        stdout, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, argv, stdout)
    return stdout


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


class Server:
    """`robots serve`, or with `command` another server taking the address last."""

    def __init__(self, database_args, env, extra_args=(), command=None, cpus=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        address = f"127.0.0.1:{self.port}"
        argv = ([*command, address] if command else
                # The seeded organization holds a robot per 100 tokens, far
                # beyond the default cap, and the creation run adds more.
                [ROBOTS, "serve", "--listen", address, "--log", "warn", "--max-robots-per-org", "1000000",
                 *database_args, *extra_args])
        if cpus:
            argv = ["taskset", "-c", cpus, *argv]
        started = time.monotonic()
        self.process = start(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        while True:
            try:
                http("GET", self.base + "/healthz")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() - started > 30:
                    self.stop()
                    raise SystemExit("the server did not start")
                time.sleep(0.005)
        self.startup = time.monotonic() - started

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wrk(url, script, duration, connections, env, cpus=None):
    # On a core of its own, one thread: a second would only take turns with it.
    argv = ["wrk", "-t1" if cpus else "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
            "-s", os.path.join(LUA, script), url]
    if cpus:
        argv = ["taskset", "-c", cpus, *argv]
    # wrk is the only child waited for while it runs: the children's CPU
    # time grows by exactly its own.
    client_before, machine_before = children_cpu_seconds(), machine_times()
    # A round that hangs (wrk waiting on a server that stopped answering) ends
    # the run rather than the machine's afternoon.
    output = run_to_end(argv, duration + 60, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    client_cpu, steal = children_cpu_seconds() - client_before, steal_share(machine_before, machine_times())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)

    def latency(percentile):
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": rps, "requests": requests, "p50": latency(50), "p99": latency(99),
            "client_cpu": client_cpu, "steal": steal, "errors": int(errors.group(1)) if errors else 0, "raw": output}


# Token creations a second the creation run makes room for (the fastest run
# so far made 5,355/s), over robots holding 100 tokens each.
CREATION_ROOM_PER_SECOND = 8000


def creation_robots(args):
    """Robots enough for every round the creation run may take, retries included."""
    seconds = args.rounds * (args.retries + 1) * args.duration
    return -(-seconds * CREATION_ROOM_PER_SECOND // 100)


BASELINE = ("baseline: GET /healthz", "/healthz", "get.lua", {})


def basic_auth(token):
    return "Basic " + base64.b64encode(f"{token['access_id']}:{token['token']}".encode()).decode()


def jwt_scenarios(token, label=""):
    """The token endpoints; the same robot token asks for the same grant every time."""
    basic = basic_auth(token)
    return [
        (f"registry token: GET /v2/token{label}", "/v2/token?service=registry&scope=repository:bench/app:pull,push", "get.lua", {"AUTH": basic}),
        (f"OAuth2 client credentials: POST /v1/oauth/token{label}", "/v1/oauth/token", "post.lua",
         {"AUTH": basic, "BODY": "grant_type=client_credentials", "TYPE": "application/x-www-form-urlencoded"}),
    ]


def shape_scenarios(token):
    """The verification exchanges with nothing verified (see examples/exchange_shapes.rs)."""
    basic = basic_auth(token)
    return [
        ("same exchange, nothing verified: GET /v1/auth", "/v1/auth", "get.lua", {"AUTH": basic}),
        ("same exchange, nothing verified: POST /v1/introspect", "/v1/introspect", "post.lua",
         {"AUTH": basic, "BODY": f"token={token['token']}", "TYPE": "application/x-www-form-urlencoded"}),
    ]


def scenarios(token):
    basic = basic_auth(token)[len("Basic "):]
    return [
        ("Basic auth: GET /v1/auth", "/v1/auth", "get.lua", {"AUTH": f"Basic {basic}"}),
        ("Bearer: GET /v1/auth", "/v1/auth", "get.lua", {"AUTH": f"Bearer {token['token']}"}),
        ("with a permission check: GET /v1/auth?repository&action", "/v1/auth?repository=bench/app&action=push", "get.lua", {"AUTH": f"Basic {basic}"}),
        ("introspection: POST /v1/introspect", "/v1/introspect", "post.lua",
         {"AUTH": f"Basic {basic}", "BODY": f"token={token['token']}", "TYPE": "application/x-www-form-urlencoded"}),
    ] + jwt_scenarios(token)


def features(token):
    """Optional features whose cost has a target: (name, scenario, arguments
    that turn it on). Each is measured on a server with it and one without."""
    basic = basic_auth(token)
    auth = ("Basic auth: GET /v1/auth", "/v1/auth", "get.lua", {"AUTH": basic})
    return [
        ("metrics (--metrics-listen)", auth, lambda: ["--metrics-listen", f"127.0.0.1:{free_port()}"]),
    ]


def compare(feature, database_args, args, env):
    """A scenario on a server without the feature and one with it, in
    alternating rounds. One SQLite data directory takes one server at a
    time, so each round starts its server afresh (and warms it up)."""
    name, scenario, switch_on = feature
    print(f"   {scenario[0]}: {name} on and off", file=sys.stderr, flush=True)
    _, path, _, extra = scenario
    rounds, repeated, rss = [], 0, 0.0

    def measured(extra_args):
        nonlocal rss
        server = Server(database_args, env, extra_args, cpus=args.server_cpus)
        try:
            for _ in range(50):
                http("GET", server.base + path, headers={"Authorization": extra["AUTH"]})
            result = run_wrk(server, scenario, args, env)
            rss = max(rss, peak_rss_mb(server.process.pid))
            return result
        finally:
            server.stop()

    for _ in range(args.rounds):
        attempts = []
        for attempt in range(args.retries + 1):
            attempts.append((measured([]), measured(switch_on())))
            if pair_steal(attempts[-1]) <= args.max_steal or attempt == args.retries:
                break
            repeated += 1
        rounds.append(min(attempts, key=pair_steal))
    return summarize(f"{scenario[0]}, {name} on", rounds, None, repeated, rss)


def run(label, database_args, tokens, args, work, with_features=False):
    print(f"== {label}: seeding {tokens:,} tokens", file=sys.stderr, flush=True)
    env = dict(os.environ)
    secrets = os.path.join(work, f"secrets-{label}.jsonl")
    seeded = time.monotonic()
    password = secret_values.token_urlsafe(24)
    run_to_end([SEED, "--tokens", str(tokens), "--secrets-out", secrets, "--password", password, *database_args],
               3600, stdout=subprocess.DEVNULL, env=env)
    seed_seconds = time.monotonic() - seeded
    token = json.loads(open(secrets).readline())
    server = Server(database_args, env, cpus=args.server_cpus)
    results = []
    try:
        session = json.loads(http("POST", server.base + "/v1/sessions",
                                  json.dumps({"username": "bencher", "password": password}).encode(),
                                  {"Content-Type": "application/json"}))["token"]
        plan = scenarios(token)
        if args.creation:
            # Tokens are spread over many robots, as they are in use: a robot
            # holds at most 100 (--max-tokens-per-robot), and a run creates
            # thousands a second.
            robots = creation_robots(args)
            for robot in range(robots):
                http("POST", server.base + "/v1/orgs/bench/robots", json.dumps({"name": f"c-{robot}"}).encode(),
                     {"Content-Type": "application/json", "Authorization": f"Bearer {session}"})
            plan.append(("token creation: POST …/tokens", "/v1/orgs/bench/robots/c-0/tokens", "create.lua",
                         {"AUTH": f"Bearer {session}", "ROBOTS": str(robots)}))
        baseline, rows = measure(server, plan, args, env)
        results += [baseline, *rows]
    finally:
        server.stop()
    costs = [compare(feature, database_args, args, env) for feature in features(token)] if with_features else []
    # The same endpoints with a signature on every request: what a token
    # costs when no identical grant was signed moments before.
    # Each row's ratio is to its own server's baseline; the table shows the
    # main server's baseline alone.
    signing = Server(database_args, env, ["--token-reuse-window", "0s"], cpus=args.server_cpus)
    try:
        _, rows = measure(signing, jwt_scenarios(token, ", signed every time (--token-reuse-window 0s)"), args, env)
        results += rows
    finally:
        signing.stop()
    # The same bytes on the wire through the same listener and layers, with
    # no verification: what the exchange itself costs.
    shapes = Server([], env, command=[SHAPES], cpus=args.server_cpus)
    try:
        _, rows = measure(shapes, shape_scenarios(token), args, env)
        results += rows
    finally:
        shapes.stop()
    return {"label": label, "tokens": tokens, "startup": server.startup, "seed": seed_seconds, "results": results,
            "costs": costs}


def measure(server, plan, args, env):
    """Each scenario in rounds, each round right after a round of the baseline
    on the same server: the machine's speed drifts by more than 10% within
    minutes, and a ratio of two runs seconds apart does not carry that drift.
    A row reports the median round (ratios: the median of the rounds' ratios)
    and the CPU time over all its rounds. Returns the server's baseline over
    all its rounds, and the scenarios' rows."""
    baselines, rows = [], []
    for name, path, script, extra in plan:
        print(f"   {name}", file=sys.stderr, flush=True)
        rounds, repeated = [], 0
        for number in range(args.rounds):
            attempts = []
            for attempt in range(args.retries + 1):
                base = run_wrk(server, BASELINE, args, env)
                # Token creation names its tokens after the attempt: each name once.
                scenario = (name, path, script, dict(extra, ROUND=f"{number}-{attempt}"))
                attempts.append((base, run_wrk(server, scenario, args, env)))
                steal = pair_steal(attempts[-1])
                if steal <= args.max_steal or attempt == args.retries:
                    break
                repeated += 1
                print(f"     steal {steal:.0%}: measuring the round again", file=sys.stderr, flush=True)
            # The pair the neighbours disturbed least.
            base, result = min(attempts, key=pair_steal)
            baselines.append(base)
            rounds.append((base, result))
        rows.append(summarize(name, rounds, server, repeated))
    return summarize(BASELINE[0], [(base, base) for base in baselines], server), rows


def pair_steal(pair):
    return max(pair[0]["steal"], pair[1]["steal"])


def run_wrk(server, scenario, args, env):
    name, path, script, extra = scenario
    connections = 16 if script == "create.lua" else args.connections
    before = cpu_seconds(server.process.pid)
    result = wrk(server.base + path, script, args.duration, connections, dict(env, **extra), args.client_cpus)
    result["cpu"] = cpu_seconds(server.process.pid) - before
    if result["errors"]:
        print(result["raw"], file=sys.stderr)
        raise SystemExit(f"{name}: {result['errors']} non-2xx answers")
    return result


def summarize(name, rounds, server, repeated=0, rss=None):
    scenario = [r for _, r in rounds]
    requests = max(sum(r["requests"] for r in scenario), 1)
    return {
        "name": name,
        "rps": statistics.median(r["rps"] for r in scenario),
        "ratio": statistics.median(r["rps"] / base["rps"] for base, r in rounds),
        "p50": statistics.median(r["p50"] for r in scenario),
        "p99": statistics.median(r["p99"] for r in scenario),
        "p99_ratio": statistics.median(r["p99"] / base["p99"] for base, r in rounds),
        "cpu_us": sum(r["cpu"] for r in scenario) / requests * 1e6,
        "client_cpu_us": sum(r["client_cpu"] for r in scenario) / requests * 1e6,
        # Of the pairs kept, the typical and the worst: how far to trust the ratio.
        "steal": statistics.median(pair_steal(pair) for pair in rounds),
        "steal_max": max(pair_steal(pair) for pair in rounds),
        "repeated": repeated,
        "rss": peak_rss_mb(server.process.pid) if rss is None else rss,
    }


def table(run_result):
    lines = [
        f"### {run_result['label']}: {run_result['tokens']:,} tokens stored",
        "",
        f"Start-up (process start to first answer): {run_result['startup'] * 1000:.0f} ms. "
        f"Peak RSS: {max(r['rss'] for r in run_result['results']):.0f} MB.",
        "",
        "| scenario | req/s | × baseline | p50 ms | p99 ms | p99 × baseline | CPU µs/req | wrk CPU µs/req | steal % median/max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [table_row(r, client_cpu=True) for r in run_result["results"]]
    if run_result["costs"]:
        lines += [
            "",
            "What an optional feature costs: the scenario on a server with it against one without, in alternating",
            "rounds (each on a freshly started server); \"× off\" is the median of the rounds' ratios.",
            "",
            "| scenario | req/s | × off | p50 ms | p99 ms | p99 × off | CPU µs/req | steal % median/max |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [table_row(r, client_cpu=False) for r in run_result["costs"]]
    return "\n".join(lines) + "\n"


def table_row(r, client_cpu):
    repeated = f" ({r['repeated']} repeated)" if r["repeated"] else ""
    client = f" {r['client_cpu_us']:.1f} |" if client_cpu else ""
    return (f"| {r['name']} | {r['rps']:,.0f} | {r['ratio']:.2f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['p99_ratio']:.2f} | {r['cpu_us']:.1f} |{client} {r['steal'] * 100:.0f}/{r['steal_max'] * 100:.0f}{repeated} |")


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="SQLite, 1,000 tokens, 6 rounds")
    parser.add_argument("--duration", type=int, default=1, help="seconds of each round (default 1)")
    parser.add_argument("--rounds", type=int,
                        help="rounds of each scenario, each after one of the baseline (default 12; --quick: 6)")
    parser.add_argument("--one-core-each", action="store_true",
                        help="the server on CPU 0 and wrk (one thread) on CPU 1, instead of both sharing all")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--max-steal", type=float, default=5,
                        help="percent of CPU time the hypervisor may take during a pair of rounds (default 5)")
    parser.add_argument("--retries", type=int, default=2,
                        help="times a pair of rounds above --max-steal is measured again; the pair with the least "
                             "steal is kept (default 2)")
    parser.add_argument("--large", type=int, default=1_000_000, help="tokens in the large population")
    parser.add_argument("--no-creation", dest="creation", action="store_false")
    parser.add_argument("--postgres-url", default=os.environ.get("ROBOTS_BENCH_POSTGRES_URL"),
                        help="an empty database per run is created on this server (default: start one)")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 6 if args.quick else 12
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    if args.retries < 0 or not 0 <= args.max_steal <= 100:
        parser.error("--retries must be at least 0 and --max-steal a percentage (0 to 100)")
    args.max_steal /= 100
    if args.one_core_each and (os.cpu_count() or 1) < 2:
        parser.error("--one-core-each needs two CPUs")
    args.server_cpus, args.client_cpus = ("0", "1") if args.one_core_each else (None, None)

    work = tempfile.mkdtemp(prefix="robots-bench-")
    runs = []
    pg_dir = None
    try:
        populations = [1000] if args.quick else [1000, args.large]
        for tokens in populations:
            data = os.path.join(work, f"sqlite-{tokens}")
            runs.append(run("SQLite", ["--data-dir", data], tokens, args, work, with_features=tokens == populations[0]))
        if not args.quick:
            admin_url = args.postgres_url
            if not admin_url:
                started = run_to_end([os.path.join(ROOT, "scripts", "start-postgres")], 120, stdout=subprocess.PIPE, text=True)
                values = dict(line.replace("export ", "").split("=", 1) for line in started.split("\n") if line.startswith("export"))
                admin_url, pg_dir = values["ROBOTS_TEST_POSTGRES_URL"], values["ROBOTS_TEST_POSTGRES_DIR"]
            for tokens in populations:
                name = f"robots_bench_{tokens}_{int(time.time())}"
                run_to_end(["psql", admin_url, "-q", "-c", f"CREATE DATABASE {name}"], 60)
                url = admin_url.rsplit("/", 1)[0] + "/" + name
                runs.append(run("PostgreSQL", ["--database-url", url], tokens, args, work))
    finally:
        stop_all()
        if pg_dir:
            subprocess.run([os.path.join(ROOT, "scripts", "stop-postgres"), pg_dir], timeout=120)
        shutil.rmtree(work, ignore_errors=True)

    placement = ("the server on CPU 0 and `wrk -t1` on CPU 1 (`--one-core-each`)." if args.one_core_each else
                 "client and server sharing its cores (`wrk -t2`).")
    report = [
        "Generated by `scripts/bench` (see `bench/run.py`): the release build of `robots serve` with a generated",
        "population of tokens, driven by `wrk -c64` (token creation: `-c16`) over loopback on the same machine,",
        placement,
        "Every scenario is compared with a baseline route that does no work (`/healthz`) on the",
        "same server: it runs in rounds, each right after a round of the baseline, and a row gives the median",
        "round and the median of the rounds' ratios (the first row: the baseline over all its rounds). The",
        "ratios travel between machines, the absolute numbers do not. CPU µs/req is the server's own CPU time",
        "(user + system) per request, over all rounds; wrk CPU µs/req the load generator's. Steal is the share",
        "of the machine's time the hypervisor took during a pair of rounds (the scenario's and its baseline's);",
        f"a pair of rounds above {args.max_steal:.0%} was measured again, up to {args.retries} times (\"repeated\"),",
        "and the pair with the least steal kept.",
        "",
        f"Machine: {machine()}. Measured: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"{args.rounds} rounds of {args.duration} s for each scenario (and as many of the baseline).",
        "",
    ]
    for r in runs:
        report.append(table(r))
    write_results(args.out, "\n".join(report))
    print("\n".join(report))


BEGIN, END = "<!-- results: written by scripts/bench -->", "<!-- end of results -->"


def write_results(path, results):
    """Replaces the results section of the document, keeping the rest."""
    try:
        document = open(path).read()
    except FileNotFoundError:
        document = f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in document or END not in document:
        document = document.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as out:
        out.write(f"{head}{BEGIN}\n{results}\n{END}{tail}")


def interrupted(signum, _frame):
    # Unwind through every `finally` above, as Ctrl-C does.
    raise SystemExit(f"stopped by signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    main()
