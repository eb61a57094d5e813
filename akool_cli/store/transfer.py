"""Moving a store into another (`akool ledger import`): jobs, batch runs and their rows, idempotently."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from akool_cli.store.history import History

CHUNK = 1000


def copy_store(source: "History", target: "History") -> dict[str, int]:
    """Every job of `source` into `target` (new ones added, known ones brought up to date as a poll would),
    then every batch run and row the target does not have. Run again, it adds nothing."""
    from dataclasses import asdict

    from akool_cli.store.journal import Journal

    jobs = new = 0
    batch = []
    for entry in source.iter_recent():
        batch.append(asdict(entry))
        if len(batch) >= CHUNK:
            new += target.import_entries(batch)
            jobs += len(batch)
            batch = []
    if batch:
        new += target.import_entries(batch)
        jobs += len(batch)
    src, dst = Journal(source), Journal(target)
    runs = rows = 0
    for run in src.runs():
        if dst.run(run["id"]) is None:
            dst.new_run(run["manifest"] or "", run["profile"], run["base_url"], json.loads(run["settings"] or "{}"),
                        run_id=run["id"])
            runs += 1
        have = {r.row for r in dst.rows(run["id"])}
        todo = [r for r in src.rows(run["id"]) if r.row not in have]
        dst.add_rows(run["id"], [{"row": r.row, "key": r.key, "endpoint": r.endpoint, "request": r.request,
                                  "source": r.source, "output": r.output, "estimate": r.estimate,
                                  "estimate_high": r.estimate_high, "price_key": r.price_key} for r in todo])
        dst.restore_rows(run["id"], [(r.row, r.state, r.job_ids, r.paths, r.error) for r in todo])
        rows += len(todo)
    return {"jobs": jobs, "jobs_new": new, "runs": runs, "rows": rows}
