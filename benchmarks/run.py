"""Performance figures of akool-cli, each as a ratio against a baseline measured in the same run.

    python benchmarks/run.py            # every target; exits 1 if any target is missed
    python benchmarks/run.py --only manifest_dry_run   # one group
    python benchmarks/run.py --quick    # fewer runs, a 256 MiB download, 1,000 rows, for a first look

Run it with the interpreter of the environment akool is installed in (a regular, non-editable
install measures what users get). These machines are noisy, so every timing is a median of
interleaved runs and every target is a ratio, never an absolute number.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from akool_cli.api.client import AkoolClient  # noqa: E402
from akool_cli.api.models import CreateRequest  # noqa: E402
from akool_cli.api.credentials import Credentials  # noqa: E402
from akool_cli.flows.wait import PollPolicy, wait_for_jobs  # noqa: E402
from akool_cli.sandbox import SANDBOX_API_KEY, SandboxConfig, start_sandbox  # noqa: E402

URL = "https://example.com/cat.png"


@dataclass
class Row:
    name: str
    measured: str
    target: str
    ok: bool


def growth(per_unit: dict[int, float]) -> str:
    """How a cost per unit (per row, per id, per callback) moves from the smallest size to each larger one:
    1.0x is linear in total (flat per unit), 10x at 10x the size would be quadratic."""
    sizes = sorted(per_unit)
    base = per_unit[sizes[0]]
    steps = ", ".join(f"{per_unit[n] / base:.2f}x at {n:,}" for n in sizes[1:])
    worst = max(per_unit[n] / base for n in sizes[1:])
    kind = "flat" if worst <= 1.3 else "linear-ish" if worst <= 2 else "super-linear"
    return f"{kind} per unit from {sizes[0]:,}: {steps}"


def child_cpu(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """User + system CPU seconds and peak RSS (bytes) of one command, from /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".cpu") as report:
        proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", report.name, *cmd], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}")
        user, system, rss = report.read().split()[-3:]
    return float(user) + float(system), int(rss) * 1024


def akool_command() -> list[str]:
    script = Path(sys.executable).parent / "akool"
    return [str(script)] if script.exists() else [sys.executable, "-m", "akool_cli"]


def cli_env(base_url: str, home: Path) -> dict[str, str]:
    return {**os.environ, "AKOOL_BASE_URL": base_url, "AKOOL_API_KEY": SANDBOX_API_KEY,
            "AKOOL_CONFIG_DIR": str(home / "config"), "AKOOL_DATA_DIR": str(home / "data"),
            "AKOOL_CACHE_DIR": str(home / "cache")}


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


# ---------------------------------------------------------------- 1. start-up


def startup(runs: int, home: Path) -> list[Row]:
    env = cli_env("http://127.0.0.1:9", home)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import typer": [sys.executable, "-c", "import typer"],
        "akool --version": akool_command() + ["--version"],
        "akool cost": akool_command() + ["cost", "--resolution", "1080p", "--length", "10", "--json"],
        "akool --help": akool_command() + ["--help"],
        "akool create --help": akool_command() + ["create", "--help"],
        "akool batch run --help": akool_command() + ["batch", "run", "--help"],
    }
    for cmd in commands.values():  # warm the file cache
        timed(cmd, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():  # interleaved, so drift hits all three alike
            times[name].append(timed(cmd, env))
    base = statistics.median(times["import typer"])
    bare = statistics.median(times["python -c pass"])
    version = statistics.median(times["akool --version"]) / base
    cost = statistics.median(times["akool cost"]) / base
    helped = statistics.median(times["akool --help"]) / base
    cost_bare = statistics.median(times["akool cost"]) / bare
    return [
        Row("start-up: akool --version", f"{version:.2f}x import typer ({base * 1000:.0f} ms)", "<= 1.3x", version <= 1.3),
        Row("start-up: akool cost --json", f"{cost:.2f}x import typer; {cost_bare:.2f}x python -c pass "
            f"({bare * 1000:.0f} ms)", "<= 1.3x typer", cost <= 1.3),
        Row("start-up: akool --help", f"{helped:.2f}x import typer", "<= 2x", helped <= 2.0),
    ] + [Row(f"start-up: {name}", f"{statistics.median(times[name]) / base:.2f}x import typer", "<= 1.5x",
             statistics.median(times[name]) / base <= 1.5) for name in ("akool create --help", "akool batch run --help")]


# ---------------------------------------------------------------- 2. polling


def polling() -> list[Row]:
    rows = []
    server = start_sandbox(SandboxConfig(port=0, queue_seconds=0.3, process_seconds=0.6))
    try:
        with AkoolClient(server.base_url, Credentials(api_key=SANDBOX_API_KEY)) as client:
            for n in (1, 10, 100):
                ids = [client.create_video(CreateRequest(URL, "p", "", "720p", 5)).id for _ in range(n)]
                before = server.state.stats()["requests"].get("results", 0)
                ticks = []
                wait_for_jobs(client.results, ids, PollPolicy(interval=0.1, max_interval=0.2), sleep=time.sleep,
                              monotonic=time.monotonic, on_update=lambda jobs, elapsed: ticks.append(elapsed))
                sent = server.state.stats()["requests"]["results"] - before
                rows.append(Row(f"polling: {n} job(s)", f"{sent} requests / {len(ticks)} ticks = "
                                f"{sent / len(ticks):.2f} per tick", "1 per tick", sent == len(ticks)))
    finally:
        server.stop()
    # A 3-minute job with the default policy, on a simulated clock: how many polls does it cost?
    clock = [0.0]
    polls = []

    def fetch(ids: list[str]) -> list:
        from akool_cli.api.models import Job

        polls.append(clock[0])
        return [Job(ids[0], 3 if clock[0] >= 180 else 2)]

    wait_for_jobs(fetch, ["x"], PollPolicy(), sleep=lambda s: clock.__setitem__(0, clock[0] + s),
                  monotonic=lambda: clock[0])
    rows.append(Row("polling: a 3-minute job, default backoff", f"{len(polls)} requests for the job",
                    "bounded (<= 20)", len(polls) <= 20))
    return rows


# ---------------------------------------------------------------- 3. batch create


def batch(count: int, home: Path) -> list[Row]:
    server = start_sandbox(SandboxConfig(port=0, latency=0.2))
    try:
        walls = {}
        for workers in (1, 4):
            server.state.reset_stats()
            images = [f"{URL}?{workers}-{i}" for i in range(count)]
            walls[workers] = timed(akool_command() + ["create", *images, "--yes", "-q", "--concurrency", str(workers)],
                                   cli_env(server.base_url, home / f"batch{workers}"))
            inflight = server.state.stats()["max_inflight"].get("create", 0)
            created = server.state.stats()["requests"].get("create", 0)
            if workers == 4:
                peak, total = inflight, created
    finally:
        server.stop()
    ratio = walls[4] / walls[1]
    return [
        Row(f"batch: {count} creates, 200 ms latency", f"--concurrency 4 takes {ratio:.2f}x --concurrency 1 "
            f"({walls[4]:.1f} s vs {walls[1]:.1f} s)", "<= 0.3x", ratio <= 0.3),
        Row("batch: creates in flight at once", f"{peak} at most ({total} sent)", "<= 4", peak <= 4 and total == count),
    ]


# ---------------------------------------------------------------- 4. download


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of one command, the RSS as /usr/bin/time reports it for that
    command alone (wait4 on a forked child would count the parent's own pages copied at fork)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        started = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *cmd], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}")
        return wall, int(report.read().split()[-1]) * 1024


def download(size: int, home: Path, runs: int) -> list[Row]:
    server = start_sandbox(SandboxConfig(port=0, queue_seconds=0, process_seconds=0, video_bytes=size))
    work = Path(tempfile.mkdtemp(prefix="akool-bench-", dir=home))
    try:
        env = cli_env(server.base_url, home / "download")
        with AkoolClient(server.base_url, Credentials(api_key=SANDBOX_API_KEY)) as client:
            job = client.create_video(CreateRequest(URL, "p", "", "720p", 5))
            [done] = client.results([job.id])
        curl, ours, rss = [], [], []
        for i in range(runs):
            # akool fsyncs the file before renaming it; curl alone would be measured into the page cache.
            wall, _ = run_measured(["sh", "-c", f"curl -s -o {work / f'curl{i}.mp4'} {done.video_url} && "
                                    f"sync {work / f'curl{i}.mp4'}"], env)
            curl.append(wall)
            (work / f"curl{i}.mp4").unlink()
            wall, peak = run_measured(akool_command() + ["download", job.id, "-o", str(work / f"akool{i}.mp4")], env)
            ours.append(wall)
            rss.append(peak)
            assert (work / f"akool{i}.mp4").stat().st_size == size
            (work / f"akool{i}.mp4").unlink()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    ratio = statistics.median(ours) / statistics.median(curl)
    peak = max(rss) / 1024 / 1024
    label = f"{size / 1024 ** 3:.2f} GiB" if size >= 1024 ** 3 else f"{size / 1024 ** 2:.0f} MiB"
    return [
        Row(f"download {label}: peak RSS", f"{peak:.0f} MB", "< 80 MB", peak < 80),
        Row(f"download {label}: wall time", f"{ratio:.2f}x curl -o ({statistics.median(ours):.2f} s vs "
            f"{statistics.median(curl):.2f} s, curl then sync)", "<= 1.2x", ratio <= 1.2),
    ]


# ---------------------------------------------------------------- 5. connection reuse


def connections(home: Path) -> list[Row]:
    server = start_sandbox(SandboxConfig(port=0, queue_seconds=0.5, process_seconds=1.0))
    try:
        env = cli_env(server.base_url, home / "conn")
        config = home / "conn" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "config.toml").write_text("[profiles.default]\npoll_interval = 0.1\npoll_max_interval = 0.2\n")
        server.state.reset_stats()
        timed(akool_command() + ["create", URL, "--effect", "squish", "--yes", "--wait"], env)
        stats = server.state.stats()
    finally:
        server.stop()
    calls = sum(stats["requests"].values())
    return [Row("connection reuse: create --effect --wait", f"{stats['connections']} TCP connection(s) for "
                f"{calls} requests", "1", stats["connections"] == 1)]


# ---------------------------------------------------------------- 6. scale


def scale(rows: int, home: Path) -> list[Row]:
    """A manifest of `rows` rows against the sandbox: peak RSS of the run, status requests per
    polling tick, and the client's CPU per tick while following every job."""
    import json as _json

    server = start_sandbox(SandboxConfig(port=0, queue_seconds=0.5, process_seconds=1.5, balance=10.0 ** 9))
    work = home / "scale"
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "rows.csv"
    manifest.write_text("image\n" + "".join(f"{URL}?row={i}\n" for i in range(rows)))
    env = cli_env(server.base_url, work)
    (work / "config").mkdir(exist_ok=True)
    (work / "config" / "config.toml").write_text("[profiles.default]\npoll_interval = 0.5\npoll_max_interval = 1.0\n")
    try:
        _, peak = run_measured(akool_command() + ["batch", "run", str(manifest), "--yes", "--no-wait",
                                                  "--concurrency", "8"], env)
        run_id = _json.loads(subprocess.run(akool_command() + ["batch", "list", "--json"], env=env,
                                            capture_output=True, text=True).stdout)[0]["id"]
        server.state.reset_stats()

        def cpu(*args: str) -> tuple[float, int]:
            with tempfile.NamedTemporaryFile("r", suffix=".cpu") as report:
                subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", report.name, *akool_command(), *args],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                user, system, rss = report.read().split()[-3:]
            return float(user) + float(system), int(rss) * 1024

        follow_cpu, follow_peak = cpu("batch", "resume", run_id, "--yes")
        stats = server.state.stats()
        # The same command once every row is final: start-up, the journal read, the report printed, and no
        # tick (a finished run sends nothing). What the ticks cost is the difference.
        base_cpu, _ = cpu("batch", "resume", run_id, "--yes")
    finally:
        server.stop()
    log = [e for e in stats["log"] if e["endpoint"] == "results"]
    # Ticks: the follower's status requests come in bursts, one burst a tick.
    ticks: list[list[dict]] = []
    last = None
    for entry in log:
        at = entry.get("at", 0.0)
        if last is None or at - last > 0.2:
            ticks.append([])
        ticks[-1].append(entry)
        last = at
    from akool_cli.flows.wait import RESULTS_CHUNK_MAX

    exact = all(len(t) == -(-sum(len(str(e["body"]["_ids"]).split(",")) for e in t) // RESULTS_CHUNK_MAX)
                for t in ticks)
    cpu_tick = max(0.0, follow_cpu - base_cpu) / max(1, len(ticks)) * 1000
    peak_mb = max(peak, follow_peak) / 1024 / 1024
    return [
        Row(f"batch of {rows} rows: peak RSS", f"{peak_mb:.0f} MB", "< 150 MB", peak_mb < 150),
        Row(f"batch of {rows} rows: status requests per tick",
            f"{len(log)} requests in {len(ticks)} ticks, 1 per {RESULTS_CHUNK_MAX} pending jobs each: "
            f"{'yes' if exact else 'no'}",
            "1 per chunk", exact),
        Row(f"batch of {rows} rows: client CPU per tick", f"{cpu_tick:.0f} ms (against the same resume once every "
            "row is final: start-up, journal and report excluded)",
            "< 100 ms", cpu_tick < 100),
    ]


def history_scale(counts: tuple[int, ...], home: Path) -> list[Row]:
    """`history --json --limit N` over N jobs (the C encoder, one record a line in jsonl): CPU and peak RSS
    at each size, against the same command listing one job (start-up, the file opened) in the same run."""
    from akool_cli.core.validation import check_ids
    from akool_cli.store.history import History, HistoryEntry, insert_statement

    big = max(counts)
    data = home / "hist" / "data"
    history = History(data / "history.sqlite3")
    now = time.time()
    ids = [f"{i:024x}" for i in range(big)]
    rows = [HistoryEntry(id=i, kind="create", created_at=now - n, expires_at=now + 86400, base_url="https://example.invalid",
                         profile="default", updated_at=now, status=3, estimate=20, deducted=20,
                         video_url=f"https://cdn.example/{i}.mp4") for n, i in enumerate(ids)]
    sql = insert_statement(rows[0])[0]
    history._many(sql, [tuple(insert_statement(r)[1]) for r in rows])
    history.close()
    env = cli_env("https://example.invalid", home / "hist")
    floor, _ = child_cpu(akool_command() + ["history", "--json", "--limit", "1"], env)
    figures = {n: child_cpu(akool_command() + ["history", "--json", "--limit", str(n)], env) for n in counts}
    started = time.perf_counter()
    check_ids(ids)
    dedupe = time.perf_counter() - started
    cpu, peak = figures[big]
    out = [Row(f"history --json at {n:,} jobs", f"{c:.2f} s CPU ({c - floor:.2f} s beyond listing one job), "
               f"{rss / 1024 / 1024:.0f} MB", "< 2 s CPU at 100,000" if n == big else "-",
               c < 2 if n == big else True) for n, (c, rss) in figures.items()]
    out.append(Row("history --json growth", growth({n: (c - floor) / n for n, (c, _) in figures.items()}),
                   "flat", all((c - floor) / n <= 1.3 * (figures[min(counts)][0] - floor) / min(counts)
                               for n, (c, _) in figures.items())))
    out.append(Row(f"history --json at {big:,} jobs: peak RSS", f"{peak / 1024 / 1024:.0f} MB", "< 100 MB",
                   peak < 100 * 1024 * 1024))
    out.append(Row(f"de-duplicating {big:,} ids", f"{dedupe * 1000:.0f} ms", "< 100 ms", dedupe < 0.1))
    return out


def batch_rss(counts: tuple[int, ...], home: Path) -> list[Row]:
    """Peak RSS of `batch run --no-wait` at each size, against `batch run --dry-run` of the same manifest
    (start-up and the streamed read of every row, nothing held) measured in the same run."""
    server = start_sandbox(SandboxConfig(port=0, balance=10.0 ** 12, queue_seconds=3600))
    per_row: dict[int, float] = {}
    out = []
    try:
        for n in counts:
            work = home / f"rss-{n}"
            work.mkdir(parents=True, exist_ok=True)
            manifest = work / "rows.csv"
            manifest.write_text("image,key\n" + "".join(f"{URL}?row={i},k{i}\n" for i in range(n)))
            env = cli_env(server.base_url, work)
            _, dry = child_cpu(akool_command() + ["batch", "run", str(manifest), "--dry-run"], env)
            cpu, peak = child_cpu(akool_command() + ["batch", "run", str(manifest), "--yes", "--no-wait",
                                                     "--concurrency", "8"], env)
            per_row[n] = (peak - dry) / n
            out.append(Row(f"batch run --no-wait of {n:,} rows: peak RSS",
                           f"{peak / 1024 / 1024:.0f} MB ({dry / 1024 / 1024:.0f} MB for the dry run; "
                           f"{per_row[n] / 1024:.2f} KiB a row; {cpu / n * 1000:.2f} ms CPU a row)",
                           "< 200 MB at 100,000" if n == 100_000 else "-", peak < 200 * 1024 ** 2 or n != 100_000))
            shutil.rmtree(work, ignore_errors=True)
    finally:
        server.stop()
    first = min(counts)
    out.append(Row("batch run peak RSS growth", growth(per_row), "flat per row",
                   all(v <= 1.5 * per_row[first] for v in per_row.values())))
    return out


def manifest_dry_run(rows: int, home: Path) -> list[Row]:
    """`batch run --dry-run` over a big manifest against reading the same file with the csv module
    (the floor: every byte parsed once), at rows/10 and rows to show the growth."""
    env = cli_env("http://127.0.0.1:9", home)
    figures = []
    for count in (rows // 10, rows):
        path = home / f"manifest-{count}.csv"
        with path.open("w") as handle:
            handle.write("image,key,prompt\n")
            for n in range(count):
                handle.write(f"https://example.com/img{n}.png,k{n},a cat number {n}\n")
        floor = timed([sys.executable, "-c", f"import csv; sum(1 for _ in csv.DictReader(open({str(path)!r})))"])
        ours, peak_bytes = run_measured(akool_command() + ["--sandbox", "batch", "run", str(path), "--dry-run"], env)
        peak = peak_bytes / 1024 / 1024
        figures.append((count, ours, floor, peak))
    (small, small_t, _, _), (big, big_t, big_floor, big_peak) = figures
    growth = (big_t / small_t) / (big / small)
    return [
        Row(f"batch --dry-run, {big} rows: wall", f"{big_t:.1f} s = {big_t / big_floor:.1f}x csv.DictReader alone",
            "< 60 s", big_t < 60),
        Row(f"batch --dry-run, {big} rows: peak RSS", f"{big_peak:.0f} MB", "< 500 MB", big_peak < 500),
        Row(f"batch --dry-run: growth {small} -> {big} rows", f"{growth:.2f}x linear", "<= 1.3x", growth <= 1.3),
    ]


# ---------------------------------------------------------------- 9. submission, status ticks and the listener at scale


def submit_growth(counts: tuple[int, ...]) -> list[Row]:
    """The submitter's own CPU per create (a create that answers at once, no network), against the
    fair floor measured in the same run: the same pool, futures drained as they complete."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from akool_cli.api.models import CreateRequest, Job
    from akool_cli.flows.submit import Submission, submit_all

    def subs(n: int) -> list[Submission]:
        return [Submission(str(i), CreateRequest(image_url=f"{URL}?{i}", prompt="p", negative_prompt="",
                                                 resolution="720p", video_length=5)) for i in range(n)]

    def answer(request: object) -> Job:
        return Job.from_api({"_id": "a" * 24, "status": 1})

    per: dict[int, tuple[float, float]] = {}
    for n in counts:
        todo = subs(n)
        started = time.process_time()
        submit_all(answer, todo, 4, lambda sub, job: None)
        ours = (time.process_time() - started) / n
        started = time.process_time()
        with ThreadPoolExecutor(4) as pool:
            for future in as_completed([pool.submit(answer, s.request) for s in todo]):
                future.result()
        floor = (time.process_time() - started) / n
        per[n] = (ours, floor)
    small, big = counts[0], counts[-1]
    rate = per[big][0] / per[small][0]
    rows = [Row(f"submitter CPU per create at {n} rows", f"{ours * 1e6:.0f} us ({ours / floor:.2f}x the floor)",
                "flat", True) for n, (ours, floor) in per.items()]
    rows.append(Row("submitter growth", growth({n: ours for n, (ours, _) in per.items()}), "<= 1.5x per create",
                    rate <= 1.5))
    return rows


STATUS_TICK = """
import sys, time, json
from pathlib import Path
from akool_cli.api.client import AkoolClient
from akool_cli.api.credentials import Credentials
from akool_cli.flows.wait import Poller, fetch_jobs
from akool_cli.store.history import History
base, key, ids_file, db = sys.argv[1:5]
ids = Path(ids_file).read_text().split()
client = AkoolClient(base, Credentials(api_key=key))
history = History(Path(db))
fetch_jobs(client, ids[:100]); history.update_from_jobs([])  # connection and schema ready: not a tick's cost
poll = Poller(client, history)  # the poll loop's own tick (flows.wait)
started = time.process_time()
jobs = poll(ids)  # the first tick writes every job to the history
first = time.process_time() - started
best = None
for _ in range(5):  # later ticks: nothing moved, nothing is rewritten
    started = time.process_time()
    jobs = poll(ids)
    spent = time.process_time() - started
    best = spent if best is None else min(best, spent)
print(json.dumps({"cpu": best, "first": first, "jobs": len(jobs)}))
"""


def status_tick(count: int) -> list[Row]:
    """One polling tick of `status --wait` (or of a batch follower) at `count` ids: every chunk's request,
    the answers parsed into jobs, and the history updated in one transaction; client CPU only (the
    sandbox runs in another process). Growth per id over count/100, count/10 and count."""
    import http.client

    server = subprocess.Popen([*akool_command(), "sandbox", "--port", "0", "--balance", "1e9"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True,
                              env={**os.environ, "AKOOL_DATA_DIR": str(ROOT / ".bench-sandbox")})
    work = Path(tempfile.mkdtemp(prefix="status-", dir=ROOT))
    try:
        line = server.stdout.readline()  # base_url   http://127.0.0.1:PORT
        port = int(line.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = json.dumps({"image_url": URL, "prompt": "p", "negative_prompt": "", "resolution": "720p",
                           "video_length": 5, "audio_type": 3})
        ids = []
        for _ in range(count):  # the jobs exist at the service: each tick parses real answers
            conn.request("POST", "/api/open/v4/image2Video/createBySourcePrompt", body=body,
                         headers={"x-api-key": SANDBOX_API_KEY, "Content-Type": "application/json"})
            ids.append(json.loads(conn.getresponse().read())["data"]["_id"])
        conn.close()
        figures = {}
        for n in (count // 100, count // 10, count):
            listing = work / f"ids-{n}.txt"
            listing.write_text("\n".join(ids[:n]) + "\n")
            done = subprocess.run([sys.executable, "-c", STATUS_TICK, f"http://127.0.0.1:{port}", SANDBOX_API_KEY,
                                   str(listing), str(work / f"h{n}.sqlite3")], capture_output=True, text=True,
                                  cwd=ROOT)
            figures[n] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(ROOT / ".bench-sandbox", ignore_errors=True)
    small, big = count // 10, count
    rate = (figures[big]["cpu"] / figures[small]["cpu"]) / (big / small)
    from akool_cli.flows.wait import RESULTS_CHUNK_MAX

    return [Row(f"status tick at {big} ids: client CPU", f"{figures[big]['cpu'] * 1000:.0f} ms ({-(-big // RESULTS_CHUNK_MAX)} "
                f"requests; the first tick, writing all {big} to the history: {figures[big]['first'] * 1000:.0f} ms)",
                "< 60 ms", figures[big]["cpu"] < 0.06),
            Row("status tick growth", growth({n: f["cpu"] / n for n, f in figures.items()}),
                f"<= 1.3x per id {small:,} -> {big:,}", rate <= 1.3)]


LISTENER_FLOOR = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"msg": "ok"}'
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
s.serve_forever()
"""


def listener(counts: tuple[int, ...], senders: int = 8) -> list[Row]:
    """`akool webhook listen` against a bare stdlib server on the same signed bodies, 8 senders at once."""
    import socket
    import threading

    from akool_cli.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
    from akool_cli.sandbox import webhooks as sender

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def blast(port: int, bodies: list[bytes]) -> float:
        import http.client

        chunks = [bodies[i::senders] for i in range(senders)]

        def send(mine: list[bytes]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for body in mine:
                conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
                conn.getresponse().read()
            conn.close()

        threads = [threading.Thread(target=send, args=(c,)) for c in chunks]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return len(bodies) / (time.perf_counter() - started)

    def wait_port(port: int) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)

    rows = []
    rates: dict[int, float] = {}
    for count in counts:
        bodies = [json.dumps(sender.callback_body({"_id": f"{i:024x}", "status": 3, "type": "image2video",
                                                   "url": f"https://cdn.example/{i}.mp4"},
                                                  SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)).encode()
                  for i in range(count)]
        work = Path(tempfile.mkdtemp(prefix="listen-", dir=ROOT))
        env = {**cli_env("http://127.0.0.1:9", work), "AKOOL_CLIENT_ID": SANDBOX_CLIENT_ID,
               "AKOOL_CLIENT_SECRET": SANDBOX_CLIENT_SECRET}
        floor = ours = 0.0
        for attempt in range(2):  # alternated, best of two each: both warm, neither favoured by the order
            port = free_port()
            floor_proc = subprocess.Popen([sys.executable, "-c", LISTENER_FLOOR, str(port)])
            wait_port(port)
            floor = max(floor, blast(port, bodies))
            floor_proc.terminate()
            floor_proc.wait(10)
            port = free_port()
            ours_proc = subprocess.Popen(akool_command() + ["webhook", "listen", "--port", str(port), "--format",
                                                            "ids"], env={**env, "AKOOL_DATA_DIR": str(work / f"d{attempt}")},
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(port)
            ours = max(ours, blast(port, bodies))
            ours_proc.terminate()
            ours_proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
        rates[count] = ours
        rows.append(Row(f"webhook listen, {count} callbacks, {senders} senders",
                        f"{ours:.0f}/s = {ours / floor:.2f}x a bare stdlib server ({floor:.0f}/s)", ">= 0.6x",
                        ours / floor >= 0.6))
    small, big = counts[0], counts[-1]
    rows.append(Row("webhook listen: time per callback", growth({n: 1 / r for n, r in rates.items()}),
                    f"rate at {big:,} >= 0.8x the rate at {small:,}", rates[big] / rates[small] >= 0.8))
    return rows


# ---------------------------------------------------------------- 10. the gallery and sharded workers


def gallery_render(count: int = 1000) -> list[Row]:
    """`akool gallery --history --limit N` over N jobs: the whole command's CPU, against start-up alone."""
    from akool_cli.store.history import History, HistoryEntry, insert_statement

    work = Path(tempfile.mkdtemp(prefix="gallery-", dir=ROOT))
    try:
        history = History(work / "data" / "history.sqlite3")
        now = time.time()
        rows = [HistoryEntry(id=f"{i:024x}", kind="create", created_at=now - i, expires_at=now + 86400,
                             base_url="https://example.invalid", profile="default", updated_at=now, status=3,
                             estimate=20, deducted=20, effect_name="Squish", resolution="720p", video_length=5,
                             source=f"https://example.com/{i}.png", video_url=f"https://cdn.example/{i}.mp4",
                             request=json.dumps({"prompt": f"a cat {i}"})) for i in range(count)]
        history._many(insert_statement(rows[0])[0], [tuple(insert_statement(r)[1]) for r in rows])
        history.close()
        env = cli_env("https://example.invalid", work)

        def cpu(*args: str) -> float:
            with tempfile.NamedTemporaryFile("r", suffix=".cpu") as report:
                subprocess.run(["/usr/bin/time", "-f", "%U %S", "-o", report.name, *akool_command(), *args],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                user, system = report.read().split()[-2:]
            return float(user) + float(system)

        page = work / "g.html"
        full = min(cpu("gallery", "--history", "--limit", str(count), "-o", str(page)) for _ in range(3))
        base = min(cpu("gallery", "--history", "--limit", "1", "-o", str(work / "one.html")) for _ in range(3))
        size = page.stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [Row(f"gallery of {count} jobs: CPU", f"{full:.2f} s ({full - base:.2f} s beyond one card; page "
                f"{size / 1024:.0f} KiB)", "< 2 s", full < 2)]


def sharded_workers(rows: int = 300) -> list[Row]:
    """Creates/s and the most creates in flight (the sandbox's own count) for 1 worker and for 3 shard
    workers at --concurrency 2, against a sandbox with 50 ms latency; with a shared ledger the 3 hold 2."""
    from akool_cli.sandbox import start_sandbox as start

    figures = []
    ledger = _bench_postgres()
    try:
        for label, workers, url in (("1 worker", 1, None), ("3 shard workers, no ledger", 3, None),
                                    ("3 shard workers, shared ledger", 3, ledger.url if ledger else None)):
            if label.endswith("shared ledger") and url is None:
                figures.append(Row(f"{label}", "skipped: no PostgreSQL here", "-", True))
                continue
            server = start(SandboxConfig(port=0, latency=0.05, balance=10.0 ** 9))
            work = Path(tempfile.mkdtemp(prefix="shards-", dir=ROOT))
            manifest = work / "m.csv"
            manifest.write_text("image,key\n" + "".join(f"{URL}?{i},k{i}\n" for i in range(rows)))
            procs = []
            started = time.perf_counter()
            for k in range(1, workers + 1):
                home = work / f"w{k}"
                (home / "config").mkdir(parents=True)
                extra = f'"ledger.url" = "{url}"\n' if url else ""
                (home / "config" / "config.toml").write_text(f'[profiles.default]\nbase_url = "{server.base_url}"\n{extra}')
                shard = ["--shard", f"{k}/{workers}"] if workers > 1 else []
                procs.append(subprocess.Popen(akool_command() + ["batch", "run", str(manifest), "--yes", "--no-wait",
                                                                 "--concurrency", "2", *shard],
                                              env=cli_env(server.base_url, home), stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
            for proc in procs:
                proc.wait(600)
            wall = time.perf_counter() - started
            stats = server.state.stats()
            server.stop()
            shutil.rmtree(work, ignore_errors=True)
            made = stats["requests"].get("create", 0)
            most = stats["max_inflight"].get("create", 0)
            ok = most <= 2 or "no ledger" in label
            figures.append(Row(f"{label}: {rows} rows, --concurrency 2, 50 ms latency",
                               f"{made / wall:.0f} creates/s, at most {most} in flight", "<= 2 in flight", ok))
    finally:
        if ledger is not None:
            ledger.stop()
    return figures


def _bench_postgres() -> "object | None":
    """The tests' PostgreSQL helper, when the server's binaries and psycopg are there."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import pytest  # noqa: F401 - the helper skips through pytest
        from test_ledger import Postgres
        root = Path(tempfile.mkdtemp(prefix="akool-pg-"))
        server = Postgres(root)
        server.url = server.database()
        return server
    except BaseException:  # noqa: BLE001 - no server here: that figure is skipped, the others stand
        return None


MINIMAL_MCP = """
from mcp.server.mcpserver import MCPServer
server = MCPServer("minimal")
@server.tool(description="x")
def ping(x: int = 1) -> dict:
    return {"x": x}
server.run("stdio")
"""


def mcp_startup(home: Path, runs: int = 5) -> list[Row]:
    """`akool mcp` from spawn to initialize + tools/list, against a one-tool server on the same SDK."""
    import anyio
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    async def once(params: StdioServerParameters) -> float:
        started = time.perf_counter()
        with open(os.devnull, "w") as sink:
            async with stdio_client(params, errlog=sink) as (read, write):
                async with ClientSession(read, write) as client:
                    await client.initialize()
                    await client.list_tools()
        return time.perf_counter() - started

    minimal = home / "minimal_mcp.py"
    minimal.write_text(MINIMAL_MCP)
    env = cli_env("http://127.0.0.1:9", home)
    ours = StdioServerParameters(command=akool_command()[0], args=akool_command()[1:] + ["--sandbox", "mcp"],
                                 env=env)
    base = StdioServerParameters(command=sys.executable, args=[str(minimal)], env=env)
    a, b = [], []
    for _ in range(runs):  # interleaved
        a.append(anyio.run(once, ours))
        b.append(anyio.run(once, base))
    ratio = statistics.median(a) / statistics.median(b)
    return [Row("mcp: spawn, initialize, tools/list", f"{ratio:.2f}x a one-tool SDK server "
                f"({statistics.median(a):.2f} s vs {statistics.median(b):.2f} s)", "<= 1.5x", ratio <= 1.5)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs and a smaller download")
    parser.add_argument("--only", help="run one group: startup, polling, batch, download, connections, scale, "
                                       "history_scale, batch_rss, manifest_dry_run, mcp, submit, status_tick, listener, "
                                       "gallery, shards")
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    size = 256 * 1024 ** 2 if args.quick else 1024 ** 3
    home = Path(tempfile.mkdtemp(prefix="akool-bench-home-", dir=ROOT))
    rows: list[Row] = []
    try:
        steps = {"startup": lambda: startup(runs, home), "polling": polling, "batch": lambda: batch(50, home),
                 "download": lambda: download(size, home, 3), "connections": lambda: connections(home),
                 "scale": lambda: scale(1000 if args.quick else 10_000, home),
                 "history_scale": lambda: history_scale((10_000, 30_000, 100_000), home),
                 "batch_rss": lambda: batch_rss((1_000, 5_000, 20_000) if args.quick else (1_000, 10_000, 100_000),
                                                home),
                 "manifest_dry_run": lambda: manifest_dry_run(100_000 if args.quick else 1_000_000, home),
                 "mcp": lambda: mcp_startup(home),
                 "submit": lambda: submit_growth((100, 1_000, 10_000) if args.quick else (100, 1_000, 10_000, 100_000)),
                 "status_tick": lambda: status_tick(10_000),
                 "listener": lambda: listener((2_000, 5_000, 10_000) if args.quick else (10_000, 30_000, 100_000)),
                 "gallery": lambda: gallery_render(1000),
                 "shards": lambda: sharded_workers(150 if args.quick else 300)}
        for name, step in steps.items():
            if args.only and name != args.only:
                continue
            try:
                rows += step()
            except Exception as exc:  # one broken figure must not hide the others
                rows.append(Row(f"(a step failed: {type(exc).__name__})", str(exc)[:60], "-", False))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    width = max(len(r.name) for r in rows)
    mwidth = max(len(r.measured) for r in rows)
    print(f"{'figure':<{width}}  {'measured':<{mwidth}}  {'target':<16}  ok")
    for row in rows:
        print(f"{row.name:<{width}}  {row.measured:<{mwidth}}  {row.target:<16}  {'yes' if row.ok else 'NO'}")
    missed = [r.name for r in rows if not r.ok]
    if missed:
        print(f"\n{len(missed)} target(s) missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
