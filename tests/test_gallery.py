"""akool gallery: the page opened in a real headless Chromium (Debian's, driven by Selenium), posters from
cover_url and from frames (PyAV), hostile names kept inert, marks -> commands and --from-file, and the
--serve page's keep/reject going through the CLI's download and delete."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import PNG, ROOT, process_env

URL = "https://example.com/cat.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
HOSTILE_PROMPT = '"><img src=x onerror="window.__pwned=2"><script>window.__pwned=3</script>'
HOSTILE_FILE = 'x" onerror="window.__pwned=4" javascript:alert(1).png'


def _browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("Chromium and ChromeDriver are not installed (apt-get install chromium chromium-driver; "
                    ".ci/run does it where it can)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _wait(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def run_with_videos(online, sandbox, tmp_path):
    """A batch run of 3 local images (one with a hostile name), one of them failing, saved to out/; plus a
    model job (the sandbox sends cover_url for those) and a prompt-only job with a hostile prompt."""
    online.configure(base_url=sandbox.url, poll_interval=0.05, poll_max_interval=0.1,
                     **{"upload.command": "echo https://example.com/uploaded.png"})
    images = []
    for name in ("a.png", "b.png", HOSTILE_FILE):
        path = tmp_path / "in" / name
        path.parent.mkdir(exist_ok=True)
        shutil.copy(PNG, path)
        images.append(path)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"image": str(p), "key": f"k{n}", "effect": "squish"}) + "\n"
                                for n, p in enumerate(images)))
    sandbox.fault("create:fail_job")
    made = online("batch", "run", str(manifest), "--yes", "-o", str(tmp_path / "out") + "/", "--json")
    assert made.exit_code in (0, 5, 7), made.stderr
    run = made.json()["run"]
    model = online("create", URL, "--model", "AkoolImage2VideoFastV1", "--yes", "--wait", "--json").json()
    hostile = online("create", URL + "?p", "--prompt", HOSTILE_PROMPT, "--yes", "--wait", "--json").json()
    return run, model["_id"], hostile["_id"]


def _page(online, tmp_path, *args: str) -> tuple[Path, dict]:
    page = tmp_path / "out" / "gallery.html"
    result = online("gallery", *args, "-o", str(page), "--contact-sheet", str(tmp_path / "out" / "sheet.png"),
                    "--json")
    assert result.exit_code == 0, result.stderr
    return page, result.json()


def test_a_run_s_gallery_in_a_real_browser(online, sandbox, tmp_path, run_with_videos):
    run, _, _ = run_with_videos
    page, facts = _page(online, tmp_path, run)
    assert facts["cards"] == 3 and facts["posters"]["frame"] == 2 and facts["posters"]["source"] == 1
    from PIL import Image

    assert Image.open(tmp_path / "out" / "sheet.png").size[0] > 0 and facts["contact_sheet_tiles"] == 3
    browser = _browser()
    try:
        browser.get(page.as_uri())
        cards = browser.find_elements("css selector", "article.card")
        assert len(cards) == 3
        assert _wait(lambda: browser.execute_script(
            "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")), \
            browser.execute_script("return Array.from(document.images).map(i => [i.src, i.naturalWidth])")
        assert _wait(lambda: browser.execute_script(
            "return Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 1 && v.videoWidth > 0)"))
        assert len(browser.find_elements("css selector", "video")) == 2  # the failed job has no video
        text = browser.find_element("id", "summary").text
        assert "3 job(s)" in text and "2 saved" in text
        # Filters change what is shown.
        browser.execute_script("var s=document.getElementById('f-status'); s.value='failed';"
                               "s.dispatchEvent(new Event('change'))")
        assert [c.get_attribute("data-status") for c in cards if c.is_displayed()] == ["failed"]
        assert browser.find_element("id", "shown").text == "1 of 3 shown"
        browser.execute_script("var s=document.getElementById('f-status'); s.value='';"
                               "s.dispatchEvent(new Event('change'))")
        # Marks produce the exact commands.
        ids = [c.get_attribute("data-id") for c in cards]
        cards[0].find_element("css selector", "button.keep").click()
        cards[1].find_element("css selector", "button.reject").click()
        commands = browser.find_element("id", "commands").text.splitlines()
        assert commands == [f"akool download {ids[0]}", f"akool delete {ids[1]}"]
        cards[1].find_element("css selector", "button.reject").click()  # a second click takes the mark back
        assert browser.find_element("id", "commands").text == f"akool download {ids[0]}"
        png = browser.get_screenshot_as_png()
        colours = Image.open(io.BytesIO(png)).convert("RGB").getcolors(1 << 20)
        assert colours is not None and len(colours) > 50  # not a blank page
    finally:
        browser.quit()


def test_hostile_names_and_prompts_stay_text(online, sandbox, tmp_path, run_with_videos):
    page, facts = _page(online, tmp_path, "--history")
    text = page.read_text()
    assert "<script>window.__pwned" not in text and 'onerror="window' not in text
    assert len(re.findall(r"<script", text)) == 2  # the page's own script and its JSON data
    assert 'src="javascript' not in text.lower() and "javascript%3a" in text.lower()  # a file name, quoted
    browser = _browser()
    try:
        browser.get(page.as_uri())
        assert browser.execute_script("return window.__pwned") is None
        assert browser.find_elements("css selector", "img[src='x']") == []
        prompts = browser.execute_script("return Array.from(document.querySelectorAll('dd')).map(d => d.textContent)")
        assert HOSTILE_PROMPT in prompts  # shown, as text
        assert facts["posters"]["cover"] == 1  # the model job's cover_url
    finally:
        browser.quit()


def test_the_page_moves_with_its_folder(online, sandbox, tmp_path, run_with_videos):
    run, _, _ = run_with_videos
    page, _ = _page(online, tmp_path, run)
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "out", moved)
    shutil.rmtree(tmp_path / "out")
    text = (moved / "gallery.html").read_text()
    assert str(tmp_path / "out") not in text and 'src="./' in text
    for ref in re.findall(r'src="(\./[^"]+\.(?:mp4|png))"', text):
        if "%" not in ref:
            assert (moved / ref[2:]).exists(), ref


def test_marks_files_drive_download_and_delete(online, sandbox, tmp_path, run_with_videos):
    run, model, hostile = run_with_videos
    marks = tmp_path / "marks.json"
    marks.write_text(json.dumps({"keep": [model], "reject": [hostile]}))
    saved = online("download", "--from-file", str(marks), "-o", str(tmp_path / "kept") + "/", "--json")
    assert saved.exit_code == 0 and [r["_id"] for r in saved.json()] == [model]
    deleted = online("delete", "--from-file", str(marks), "--yes", "--json")
    assert deleted.exit_code == 0 and deleted.json()["deleted"] == [hostile]
    lines = tmp_path / "ids.txt"
    lines.write_text(f"# to keep\n{model}\n\n")
    assert online("download", "--from-file", str(lines), "-o", str(tmp_path / "k2") + "/").exit_code == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"keep": ["../../etc/passwd"]}')
    refused = online("download", "--from-file", str(bad))
    assert refused.exit_code == 2 and "not a job id" in refused.stderr
    assert online("delete", "--from-file", "-", "--yes", stdin=f"{model}\n").exit_code == 0


def _serve(tmp_path, sandbox, online, *args) -> tuple[subprocess.Popen, str]:
    env = process_env(online.home, AKOOL_CONFIG_DIR=str(online.paths.config_dir),
                      AKOOL_DATA_DIR=str(online.paths.data_dir), AKOOL_CACHE_DIR=str(online.paths.cache_dir),
                      AKOOL_API_KEY=online.env["AKOOL_API_KEY"])
    process = subprocess.Popen([sys.executable, "-m", "akool_cli", "gallery", *args, "--serve", "--no-open", "-o",
                                str(tmp_path / "served" / "gallery.html")], env=env, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
    line = process.stderr.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/[\w-]+/)", line)
    assert match, line
    return process, match.group(1)


def test_the_served_page_keeps_and_rejects_through_the_cli_s_code(online, sandbox, tmp_path, run_with_videos):
    _, model, hostile = run_with_videos
    (tmp_path / "served").mkdir()
    paid = (sandbox.count("create"), sandbox.count("create_batch"), sandbox.count("add_audio"))
    process, url = _serve(tmp_path, sandbox, online, "--history")
    try:
        browser = _browser()
        try:
            browser.get(url)
            cards = {c.get_attribute("data-id"): c for c in browser.find_elements("css selector", "article.card")}
            served = ("return Array.from(document.images).filter(i => !i.src.startsWith('https://example.com'))"
                      ".map(i => i.complete && i.naturalWidth > 0)")
            assert _wait(lambda: (lambda seen: seen and all(seen))(browser.execute_script(served)))
            cards[model].find_element("css selector", "button.keep").click()
            browser.find_element("id", "do-keep").click()
            assert _wait(lambda: "saved 1" in browser.find_element("id", "status").text), \
                browser.find_element("id", "status").text
            assert (tmp_path / "served" / f"{model}.mp4").exists()
            cards[hostile].find_element("css selector", "button.reject").click()
            browser.find_element("id", "do-reject").click()
            alert = _wait(lambda: _alert(browser))
            assert alert.text == "Delete 1 video(s) for good?"
            alert.accept()
            assert _wait(lambda: "deleted 1 of 1" in browser.find_element("id", "status").text)
            assert sandbox.count("delete") == 1
            assert (sandbox.count("create"), sandbox.count("create_batch"), sandbox.count("add_audio")) == paid
        finally:
            browser.quit()
        port = int(url.split(":")[2].split("/")[0])
        token = url.rstrip("/").rsplit("/", 1)[-1]
        assert _status(url, headers={"Host": "evil.example"}) == 421
        assert _status(f"http://127.0.0.1:{port}/") == 404 and _status(f"http://127.0.0.1:{port}/nope/") == 404
        api = f"http://127.0.0.1:{port}/{token}/api/delete"
        body = json.dumps({"job_ids": [model], "confirmed": True}).encode()
        assert _status(api, body, {"Content-Type": "application/json"}) == 403  # no Origin
        assert _status(api, body, {"Content-Type": "application/json", "Origin": "https://evil.example"}) == 403
        origin = {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{port}"}
        assert _status(api, json.dumps({"job_ids": ["a" * 24], "confirmed": True}).encode(), origin) == 400
        assert _status(api, json.dumps({"job_ids": [model]}).encode(), origin) == 400  # not confirmed
        create = f"http://127.0.0.1:{port}/{token}/api/create"
        assert _status(create, body, origin) == 404
        assert sandbox.count("delete") == 1
    finally:
        process.terminate()
        process.wait(10)


def _alert(browser):
    try:
        return browser.switch_to.alert
    except Exception:  # noqa: BLE001 - not open yet
        return None


def _status(url: str, data: bytes | None = None, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_gallery_usage_errors(cli):
    assert cli("gallery").exit_code == 2
    assert "give a run id, --history or --from-file" in cli("gallery").stderr
    assert cli("gallery", "--history", "-o", "page.txt").exit_code == 2
    assert cli("gallery", "nosuchrun").exit_code == 2
    result = cli("gallery", "--history", "--status", "bogus")
    assert result.exit_code == 2 and "unknown status" in result.stderr


def test_the_page_is_self_contained(cli, tmp_path):
    assert cli("gallery", "--history", "-o", str(tmp_path / "g.html")).exit_code == 0
    text = (tmp_path / "g.html").read_text()
    assert "<link" not in text and "@import" not in text and "src=\"http" not in text
    assert "Content-Security-Policy" in text and "default-src &#x27;none&#x27;" in text


def test_the_action_ships_a_gallery(tmp_path):
    import yaml

    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert "gallery" in action["outputs"]
