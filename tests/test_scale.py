"""One machine at scale, by counting rather than timing: requests on the wire never above --concurrency,
constant work per answer, every wait ends, idle resumes send nothing, ids from stdin, grouped commits."""

from __future__ import annotations

import threading
import time

import pytest

URL = "https://example.com/cat.png"


@pytest.mark.parametrize("workers", [1, 3])
def test_concurrency_is_never_exceeded_on_the_wire(online, sandbox_factory, tmp_path, workers):
    box = sandbox_factory(latency=0.15)  # slow to create: every request overlaps the next if it can
    online.configure(base_url=box.url, poll_interval=0.05, poll_max_interval=0.1)
    created = online("create", *[f"{URL}?c{i}" for i in range(6)], "--yes", "--concurrency", str(workers))
    assert created.exit_code == 0, created.stderr
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{URL}?r{i},k{i}\n" for i in range(8)))
    run = online("batch", "run", str(manifest), "--yes", "--no-wait", "--concurrency", str(workers))
    assert run.exit_code == 0, run.stderr
    stats = box.stats()
    assert stats["requests"]["create"] == 14
    assert stats["max_inflight"]["create"] == workers  # reached, never exceeded


def test_the_submitter_keeps_only_concurrency_requests_alive(monkeypatch):
    """Each wake-up looks at the live requests only: work per answer stays constant from 100 to 10,000."""
    from akool_cli.api.models import CreateRequest, Job
    from akool_cli.flows import submit

    seen: list[int] = []
    real_wait = submit.wait

    def counting_wait(futures, *args, **kwargs):
        seen.append(len(futures))
        return real_wait(futures, *args, **kwargs)

    monkeypatch.setattr(submit, "wait", counting_wait)
    subs = [submit.Submission(str(n), CreateRequest(image_url=f"{URL}?{n}", prompt="p", negative_prompt="", resolution="720p", video_length=5)) for n in range(2000)]
    made = iter(range(10 ** 9))
    report = submit.submit_all(lambda request: Job.from_api({"_id": f"{next(made):024x}", "status": 1}), subs, 4,
                               lambda sub, job: None)
    assert len(report.created) == 2000 and not report.not_sent
    assert max(seen) <= 4


def test_a_halt_leaves_the_rest_unsent_and_said(monkeypatch):
    from akool_cli.api.models import CreateRequest, Job
    from akool_cli.flows import submit

    subs = [submit.Submission(str(n), CreateRequest(image_url=f"{URL}?{n}", prompt="p", negative_prompt="", resolution="720p", video_length=5)) for n in range(50)]
    sent: list[int] = []

    def create(request):
        sent.append(1)
        return Job.from_api({"_id": f"{len(sent):024x}", "status": 1})

    report = submit.submit_all(create, subs, 2, lambda sub, job: None, halted=lambda: len(sent) >= 5)
    assert len(report.created) + len(report.not_sent) == 50 and len(report.created) == len(sent) < 10


def test_a_resume_whose_jobs_the_service_forgot_ends_and_says_so(online, sandbox_factory, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{URL}?r{i},k{i}\n" for i in range(3)))
    first = sandbox_factory()
    online.configure(base_url=first.url, poll_interval=0.05, poll_max_interval=0.1)
    assert online("batch", "run", str(manifest), "--yes", "--no-wait").exit_code == 0
    run_id = online("batch", "list", "--json").json()[0]["id"]
    # The same service later knows none of the run's jobs (expired, or deleted elsewhere).
    sandbox = sandbox_factory()
    online.configure(base_url=sandbox.url, poll_interval=0.05, poll_max_interval=0.1)
    resumed = online("batch", "resume", run_id, "--yes", "--timeout", "60")  # an end, even on a regression
    assert "not known to the service" in resumed.stderr and "never resent" in resumed.stderr
    from akool_cli.flows.wait import FRESH_MISSING_LIMIT

    assert sandbox.count("results") <= FRESH_MISSING_LIMIT + 1 and sandbox.count("create") == 0
    report = online("batch", "report", run_id, "--json").json()
    assert [r["status"] for r in report] == ["failed"] * 3 and "not known" in report[0]["error"]
    sandbox.reset()
    again = online("batch", "resume", run_id, "--yes")  # nothing left that can change: nothing is sent
    assert sum(sandbox.stats()["requests"].values()) == 0, (again.stderr, sandbox.stats()["requests"])


def test_an_idle_resume_of_a_finished_run_sends_nothing(online, sandbox, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{URL}?r{i},k{i}\n" for i in range(3)))
    assert online("batch", "run", str(manifest), "--yes").exit_code == 0  # waits: completed, no -o
    run_id = online("batch", "list", "--json").json()[0]["id"]
    sandbox.reset()
    assert online("batch", "resume", run_id, "--yes").exit_code == 0
    assert sum(sandbox.stats()["requests"].values()) == 0, sandbox.stats()["requests"]


def test_status_reads_ids_from_stdin_and_files_in_chunks(online, sandbox, tmp_path):
    made = [online("create", f"{URL}?{n}", "--yes", "--json").json()["_id"] for n in range(2)]
    missing = [f"{n:024x}" for n in range(148)]  # 150 ids: two requests of at most 100
    sandbox.reset()
    result = online("status", "-", "--json", stdin="\n".join(made + missing) + "\n")
    assert result.exit_code == 11 and {j["_id"] for j in result.json()} == set(made)
    assert sandbox.count("results") == 2
    listing = tmp_path / "ids.txt"
    listing.write_text("\n".join(made))
    assert online("status", "--from-file", str(listing), "--json").exit_code == 0
    assert online("status", "--from-file", str(tmp_path / "none.txt")).exit_code == 2


def test_group_commit_writes_concurrent_items_together_and_answers_each_after_its_commit():
    from akool_cli.store.groups import GroupCommit

    written: list[list[int]] = []
    gate = threading.Event()

    def write(items: list[int]) -> None:
        gate.wait(1)
        written.append(list(items))

    group: GroupCommit[int] = GroupCommit(write)
    threads = [threading.Thread(target=group.submit, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert sorted(i for g in written for i in g) == list(range(40))
    assert len(written) < 40  # grouped, not one transaction each


def test_group_commit_tells_every_member_of_a_failed_group():
    from akool_cli.store.groups import GroupCommit

    def write(items: list[int]) -> None:
        raise OSError("disk full")

    group: GroupCommit[int] = GroupCommit(write)
    with pytest.raises(OSError, match="disk full"):
        group.submit(1)
    with pytest.raises(OSError):
        group.submit(2)  # the next group is tried again, and fails on its own


def test_a_service_that_cannot_be_reached_stops_the_run_after_a_few_tries(online, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    online.configure(base_url=f"http://127.0.0.1:{port}", poll_interval=0.05, poll_max_interval=0.1, retries=0)
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{URL}?r{i},k{i}\n" for i in range(200)))
    result = online("batch", "run", str(manifest), "--yes", "--no-wait", "--concurrency", "1")
    assert result.exit_code == 8 and "could not reach the service" in result.stderr
    assert "batch resume" in result.stderr
    run_id = online("batch", "list", "--json").json()[0]["id"]
    report = online("batch", "report", run_id, "--json").json()
    states = [r["status"] for r in report]
    assert states.count("pending") >= 195  # held back, never sent: a resume sends them once it answers


def _client_and_jobs(box, n: int):
    """A real client at the sandbox and `n` jobs the service has made (created over HTTP, as anyone would)."""
    from akool_cli.api.client import AkoolClient
    from akool_cli.api.credentials import Credentials
    from akool_cli.api.models import CreateRequest
    from akool_cli.sandbox import SANDBOX_API_KEY

    client = AkoolClient(box.url, Credentials(api_key=SANDBOX_API_KEY))
    ids = [client.create_video(CreateRequest(image_url=f"{URL}?j{i}", prompt="p", negative_prompt="",
                                             resolution="720p", video_length=5)).id for i in range(n)]
    return client, ids


def _asked(box) -> list[int]:
    return [len(body["_ids"].split(",")) for body in box.bodies("results")]


def test_results_are_asked_500_ids_a_request_when_the_service_lists_them_all(sandbox_factory):
    from akool_cli.flows.wait import Results

    box = sandbox_factory()
    client, ids = _client_and_jobs(box, 1200)
    results = Results(client)
    assert {job.id for job in results(ids)} == set(ids)
    assert _asked(box) == [500, 500, 200]  # 3 requests where 100-id chunks took 12


@pytest.mark.parametrize("limit", ["results_cap", "results_refuse_over"])
def test_a_service_that_caps_or_refuses_big_requests_loses_no_job(sandbox_factory, limit):
    """Neither a silent cap nor a refusal of many ids (here at 60, below any size we would pick) may make
    live jobs look gone: they are asked again in smaller requests, and the command keeps that size."""
    from akool_cli.flows.wait import Results

    box = sandbox_factory(**{limit: 60})
    client, ids = _client_and_jobs(box, 250)
    results = Results(client)
    assert {job.id for job in results(ids)} == set(ids)
    first = _asked(box)
    if limit == "results_cap":  # 60 of 250 listed; the other 190 asked again (60 listed), the rest 60 at a time
        assert first == [250, 190, 60, 60, 10] and results.size == 60
    else:  # refused requests are halved until answered: a handful refused, never one id a request
        assert 2 <= len([n for n in first if n > 60]) <= 4 and 30 <= results.size <= 60
        assert len(first) <= 15
    assert {job.id for job in results(ids)} == set(ids)
    later = _asked(box)[len(first):]
    assert max(later) <= 60 and len(later) == -(-250 // results.size)  # the next tick: no request refused


def test_a_service_that_lists_one_job_a_request_is_asked_one_at_a_time(sandbox_factory):
    from akool_cli.flows.wait import Results

    box = sandbox_factory(results_cap=1)  # deeper than Python's recursion limit, were it recursive
    client, ids = _client_and_jobs(box, 600)
    results = Results(client)
    assert {job.id for job in results(ids)} == set(ids) and results.size == 1
    assert _asked(box) == [500, 499] + [1] * 598


def test_ids_the_service_no_longer_lists_keep_the_big_size(sandbox_factory):
    """A job the service does not know (deleted, expired) is missing from a small request too: that says
    nothing about the service's limit."""
    from akool_cli.flows.wait import RESULTS_CHUNK_MAX, Results

    box = sandbox_factory()
    client, ids = _client_and_jobs(box, 147)
    unknown = [f"{n:024x}" for n in range(3)]
    ids = unknown + ids
    results = Results(client)
    assert {job.id for job in results(ids)} == set(ids[3:])
    assert _asked(box) == [150, 3] and results.size == RESULTS_CHUNK_MAX


def test_a_wait_over_a_capped_service_ends_with_every_job_and_none_gone(online, sandbox_factory):
    box = sandbox_factory(results_cap=40)
    online.configure(base_url=box.url, poll_interval=0.05, poll_max_interval=0.1)
    _, ids = _client_and_jobs(box, 230)
    done = online("status", "--wait", "--json", *ids)
    assert done.exit_code == 0, done.stderr
    assert "not known" not in done.stderr and len(done.json()) == 230
    assert {job["status"] for job in done.json()} == {3}


def test_a_tick_where_nothing_moved_parses_and_writes_nothing_again(sandbox_factory, tmp_path, monkeypatch):
    from akool_cli.api import models
    from akool_cli.flows.wait import Poller
    from akool_cli.store.history import History

    box = sandbox_factory(queue_seconds=3600)  # every job stays queued: nothing moves between ticks
    client, ids = _client_and_jobs(box, 120)
    history = History(tmp_path / "h.sqlite3")
    poll = Poller(client, history)
    first = poll(ids)
    parsed, written = [0], [0]
    real_from_api, real_update = models.Job.from_api.__func__, history.update_from_jobs

    def counting_from_api(cls, data):
        parsed[0] += 1
        return real_from_api(cls, data)

    monkeypatch.setattr(models.Job, "from_api", classmethod(counting_from_api))
    monkeypatch.setattr(history, "update_from_jobs", lambda jobs: (written.__setitem__(0, written[0] + len(jobs)),
                                                                   real_update(jobs)))
    again = poll(ids)
    assert parsed[0] == 0 and written[0] == 0
    assert [a is b for a, b in zip(sorted(first, key=lambda j: j.id), sorted(again, key=lambda j: j.id))] == [True] * 120


def test_a_wait_over_many_jobs_off_a_terminal_logs_counts_not_a_line_a_job(online, sandbox_factory):
    box = sandbox_factory()
    online.configure(base_url=box.url, poll_interval=0.05, poll_max_interval=0.1)
    _, ids = _client_and_jobs(box, 30)
    done = online("status", "--wait", "--format", "ids", *ids)
    assert done.exit_code == 0, done.stderr
    lines = done.stderr.splitlines()
    assert not any(line.startswith(tuple(ids)) for line in lines)  # no line of its own for a job
    assert any("30 completed" in line for line in lines) and len(lines) <= 10
    few = online("status", "--wait", "--format", "ids", *ids[:3])
    assert sum(line.startswith(tuple(ids[:3])) for line in few.stderr.splitlines()) == 3  # a few: a line each
