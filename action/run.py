"""The GitHub Action's step: run akool, then set the step's outputs and write the job summary.

Inputs come as INPUT_* environment variables (action.yml maps them); outputs go to $GITHUB_OUTPUT
and the summary (a markdown table) to $GITHUB_STEP_SUMMARY, the files GitHub's runner reads.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path


def _input(name: str) -> str:
    return os.environ.get(f"INPUT_{name}", "").strip()


def _set_output(name: str, value: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        if "\n" in value:
            marker = f"akool_{uuid.uuid4().hex}"
            handle.write(f"{name}<<{marker}\n{value}\n{marker}\n")
        else:
            handle.write(f"{name}={value}\n")


def _akool(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "akool_cli", *args]
    print("+ akool " + shlex.join(args), file=sys.stderr, flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=None, text=True)
    return done


# Markdown and HTML that a server or a manifest could use to draw its own table cells, links, images or
# headings in the job summary: each is shown as the character it is.
_MARKDOWN = set("\\`*_{}[]()<>#+-.!|~&\"'=:;")


def _cell(value: object) -> str:
    """A table cell for the job summary from any string a server or a manifest sent: control characters
    (a CR ends a table row) become spaces, markdown and HTML are escaped, and the length is bounded."""
    import unicodedata

    text = str(value if value not in (None, "") else "-")[:300]
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):  # controls, bidi overrides, line separators
            out.append(" ")
        elif ch in _MARKDOWN:
            out.append(f"&#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


def _images(text: str) -> list[str]:
    """One image a line (or separated by spaces): each is an image, never an option."""
    return [word for line in text.splitlines() for word in (line.split() if " " in line.strip() else [line.strip()])
            if word]


def _sources(base: list[str], ids: list[str]) -> dict[str, str]:
    """Each job's image as it was given (a file name in the workspace, or a URL), not the upload link."""
    if not ids:
        return {}
    listed = _akool(*base, "history", "--limit", str(max(len(ids), 1) + 50), "--json", "_id,source")
    try:
        return {e["_id"]: e["source"] for e in json.loads(listed.stdout or "[]") if e.get("source")}
    except (ValueError, TypeError, KeyError):
        return {}


def _gallery(base: list[str], out: str, run_id: str, ids: list[str]) -> str:
    """gallery.html beside the videos: the run's jobs, or this step's; "" when there is nothing to show."""
    if not ids:
        return ""
    page = str(Path(out) / "gallery.html")
    if run_id:
        done = _akool(*base, "gallery", run_id, "-o", page)
    else:
        listing = Path(out) / ".akool-job-ids.txt"
        listing.write_text("\n".join(ids) + "\n")
        done = _akool(*base, "gallery", "--from-file", str(listing), "-o", page)
        listing.unlink(missing_ok=True)
    return page if done.returncode == 0 else ""


def main() -> int:
    images = _images(_input("IMAGES"))
    manifest = _input("MANIFEST")
    if bool(images) == bool(manifest):
        print("error: give either images or manifest; see the action's inputs", file=sys.stderr)
        return 2
    base = ["--sandbox"] if _input("SANDBOX").lower() in ("true", "1", "yes") else []
    out = _input("OUTPUT_DIR") or "akool-videos"
    Path(out).mkdir(parents=True, exist_ok=True)
    options = []
    for flag, name in (("--effect", "EFFECT"), ("--model", "MODEL"), ("--prompt", "PROMPT"),
                       ("--max-credits", "MAX_CREDITS")):
        if _input(name):
            options += [flag, _input(name)]
    rows: list[dict] = []
    run_id = ""
    if _input("CONCURRENCY"):
        options += ["--concurrency", _input("CONCURRENCY")]
    if manifest and (_input("SHARD") or _input("SHARDS")):
        if not (_input("SHARD").isdigit() and _input("SHARDS").isdigit()):
            print("error: shard and shards are whole numbers, given together (e.g. 2 and 4)", file=sys.stderr)
            return 2
        options += ["--shard", f"{_input('SHARD')}/{_input('SHARDS')}"]
    export = ""
    if manifest:
        done = _akool(*base, "batch", "run", manifest, "--yes", "-o", f"{out}/{{key}}-{{index}}.mp4", "--json", *options)
        try:
            run_id = json.loads(done.stdout)["run"]
        except (ValueError, KeyError, TypeError):
            run_id = ""
        if run_id:
            name = f"run-{_input('SHARD')}-of-{_input('SHARDS')}.akool" if _input("SHARD") else "run.akool"
            if _akool(*base, "batch", "export", run_id, "-o", str(Path(out) / name)).returncode == 0:
                export = str(Path(out) / name)
            report = _akool(*base, "batch", "report", run_id, "--format", "json")
            for row in json.loads(report.stdout or "[]"):
                rows.append({"image": row["source"], "what": _input("EFFECT") or _input("MODEL"),
                             "ids": row["job_ids"], "credits": row["credits_charged"],
                             "paths": row["paths"]})
    else:
        # After `--`: an image such as `--webhook=https://...` is an image (refused), never an option.
        done = _akool(*base, "create", "--yes", "-o", f"{out}/", "--json", *options, "--", *images)
        try:
            jobs = json.loads(done.stdout or "[]")
        except ValueError:
            jobs = []
        jobs = jobs if isinstance(jobs, list) else [jobs]
        sources = _sources(base, [job["_id"] for job in jobs if "_id" in job])
        for job in jobs:
            if "_id" not in job:
                rows.append({"image": job.get("image"), "what": "-", "ids": [], "credits": None, "paths": [],
                             "error": (job.get("error") or {}).get("message")})
                continue
            rows.append({"image": sources.get(job["_id"]) or job.get("image_url"),
                         "what": job.get("effect_name") or job.get("model_name")
                         or _input("MODEL") or "-", "ids": [job["_id"]], "credits": job.get("deduction_credit"),
                         "paths": [job["local_path"]] if job.get("local_path") else []})
    ids = [i for r in rows for i in r["ids"]]
    paths = [p for r in rows for p in r["paths"]]
    gallery = _gallery(base, out, run_id, ids)
    charged = sum(int(r["credits"]) for r in rows if isinstance(r.get("credits"), (int, float)))
    _set_output("job-ids", " ".join(ids))
    _set_output("paths", "\n".join(paths))
    _set_output("credits-charged", str(charged))
    _set_output("run-id", run_id)
    _set_output("gallery", gallery)
    _set_output("export", export)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        lines = ["### akool" + (" (sandbox, no credits)" if base else ""), "",
                 "| image | effect / model | credits | file |", "| --- | --- | --- | --- |"]
        for r in rows:
            lines.append(f"| {_cell(r['image'])} | {_cell(r['what'])} | {_cell(r['credits'])} | "
                         f"{_cell(', '.join(r['paths']) or r.get('error'))} |")
        lines += ["", f"{len(ids)} job(s), {charged} credits charged."
                  + (f" Resume with `akool batch resume {run_id}`." if run_id else "")
                  + (f" Gallery: {_cell(gallery)} (upload it with the videos as an artifact)." if gallery else "")]
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
