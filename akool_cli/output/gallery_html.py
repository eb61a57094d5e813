"""The gallery page: one self-contained HTML file (inline CSS and script, no network, no fonts).

Everything a server, a manifest or a file name sent is text here: escaped for HTML, never markup or
script; src attributes get only what flows.gallery let through (relative paths, http(s) URLs). A
per-page nonce in the Content-Security-Policy lets only this file's own script and style run.
"""

from __future__ import annotations

import html
import json
import secrets
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from akool_cli.flows.gallery import Card


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _expires(card: "Card", now: float) -> str:
    from akool_cli.output.views import human_duration

    if card.status in ("deleted", "failed"):
        return ""
    left = card.expires_at - now
    if left <= 0:
        return "files expired at the service"
    return f"expires at the service in {human_duration(left)}" + ("" if card.video_saved else " (not saved)")


def _credits(card: "Card") -> str:
    if card.estimate_low is None and card.charged is None:
        return "-"
    high = card.estimate_high if card.estimate_high and card.estimate_high != card.estimate_low else None
    estimate = f"{card.estimate_low}" + (f"-{high}" if high else "") if card.estimate_low is not None else "?"
    return f"estimated {estimate}, charged {'-' if card.charged is None else card.charged}"


EAGER_VIDEOS = 24  # cards past these load no video data until played (a 1,000-card page stays light)


def _media(card: "Card", src: dict[str, str | None], eager: bool = True) -> str:
    parts = []
    if src["poster"]:
        parts.append(f'<img class="poster" alt="poster" loading="lazy" src="{_e(src["poster"])}">')
    if src["video"]:
        poster = f' poster="{_e(src["poster"])}"' if src["poster"] else ""
        preload = "metadata" if eager else "none"
        parts.append(f'<video class="video" controls preload="{preload}"{poster} src="{_e(src["video"])}"></video>')
    else:
        parts.append('<p class="novideo">no video</p>')
    return "".join(parts)


def _card(card: "Card", now: float, src: dict[str, str | None], eager: bool = True) -> str:
    where = "saved on this machine" if card.video_saved else ("remote" if card.video else "")
    facts = [
        ("Status", card.status + (f": {card.failure_reason}" if card.failure_reason else "")),
        ("Effect / model", card.label or "-"),
        ("Prompt", card.prompt or "-"),
        ("Resolution", f"{card.resolution or '-'}, {card.length or '-'} s"),
        ("Credits", _credits(card)),
        ("Video", " ".join(x for x in (where, _expires(card, now)) if x) or "-"),
        ("Source", card.source or "-"),
    ]
    if card.key:
        facts.insert(0, ("Row", card.key))
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    source = f'<img class="source" alt="source image" loading="lazy" src="{_e(src["image"])}">' if src["image"] else ""
    cost = card.charged if card.charged is not None else (card.estimate_high or card.estimate_low or 0)
    return (f'<article class="card" data-id="{_e(card.id)}" data-status="{_e(card.status)}" '
            f'data-label="{_e(card.label or "")}" data-created="{card.created_at:.0f}" data-cost="{int(cost)}" '
            f'data-saved="{"yes" if card.video_saved else "no"}">'
            f'<div class="media">{_media(card, src, eager)}</div>'
            f'<h2><code>{_e(card.id)}</code></h2>{source}<dl>{rows}</dl>'
            '<div class="marks"><button type="button" class="keep" aria-pressed="false">Keep</button>'
            '<button type="button" class="reject" aria-pressed="false">Reject</button></div></article>')


def _options(values: list[str]) -> str:
    return "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f4f6;color:#1d1d22}
header{padding:12px 20px;background:#1d1d22;color:#fff}header h1{font-size:18px;margin:0 0 4px}
.controls{display:flex;flex-wrap:wrap;gap:12px;padding:10px 20px;background:#fff;border-bottom:1px solid #ddd}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px;padding:16px 20px}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px;overflow-wrap:anywhere}
.card.marked-keep{outline:3px solid #2e8b57}.card.marked-reject{outline:3px solid #c0392b;opacity:.75}
.media{display:grid;gap:6px}.poster,.video{width:100%;max-height:220px;object-fit:contain;background:#111}
.source{width:64px;height:64px;object-fit:cover;float:right;margin-left:8px;border-radius:4px}
h2{font-size:12px;margin:8px 0}dl{display:grid;grid-template-columns:auto 1fr;gap:2px 8px;margin:0}
dt{color:#666}dd{margin:0}.marks{margin-top:8px;display:flex;gap:8px}
button[aria-pressed=true].keep{background:#2e8b57;color:#fff}button[aria-pressed=true].reject{background:#c0392b;color:#fff}
#review{padding:10px 20px;background:#fff;border-top:1px solid #ddd}pre{white-space:pre-wrap;background:#f0f0f3;padding:8px}
"""

SCRIPT = """
(function(){
  var cards=Array.prototype.slice.call(document.querySelectorAll('article.card'));
  var grid=document.querySelector('main');var marks={};
  var serveBase=document.body.getAttribute('data-api')||'';
  function shown(){var st=document.getElementById('f-status').value,lb=document.getElementById('f-label').value,n=0;
    cards.forEach(function(c){var ok=(!st||c.dataset.status===st)&&(!lb||c.dataset.label===lb);c.hidden=!ok;if(ok)n++;});
    document.getElementById('shown').textContent=n+' of '+cards.length+' shown';}
  function sort(){var how=document.getElementById('f-sort').value;cards.sort(function(a,b){
    if(how==='cost')return (+b.dataset.cost)-(+a.dataset.cost)||(+b.dataset.created)-(+a.dataset.created);
    if(how==='oldest')return (+a.dataset.created)-(+b.dataset.created);return (+b.dataset.created)-(+a.dataset.created);});
    cards.forEach(function(c){grid.appendChild(c);});}
  function ids(kind){return cards.filter(function(c){return marks[c.dataset.id]===kind;}).map(function(c){return c.dataset.id;});}
  function commands(){var keep=ids('keep'),reject=ids('reject'),lines=[];
    if(keep.length)lines.push('akool download '+keep.join(' '));
    if(reject.length)lines.push('akool delete '+reject.join(' '));
    document.getElementById('commands').textContent=lines.length?lines.join('\\n'):'(mark cards with Keep or Reject)';
    document.getElementById('counts').textContent=keep.length+' kept, '+reject.length+' rejected';}
  function mark(card,kind){var id=card.dataset.id;marks[id]=marks[id]===kind?undefined:kind;
    card.classList.toggle('marked-keep',marks[id]==='keep');card.classList.toggle('marked-reject',marks[id]==='reject');
    card.querySelector('.keep').setAttribute('aria-pressed',String(marks[id]==='keep'));
    card.querySelector('.reject').setAttribute('aria-pressed',String(marks[id]==='reject'));commands();}
  cards.forEach(function(c){c.querySelector('.keep').addEventListener('click',function(){mark(c,'keep');});
    c.querySelector('.reject').addEventListener('click',function(){mark(c,'reject');});});
  ['f-status','f-label'].forEach(function(i){document.getElementById(i).addEventListener('change',shown);});
  document.getElementById('f-sort').addEventListener('change',sort);
  document.getElementById('save').addEventListener('click',function(){
    var body=JSON.stringify({keep:ids('keep'),reject:ids('reject')},null,2)+'\\n';
    var a=document.createElement('a');a.href=URL.createObjectURL(new Blob([body],{type:'application/json'}));
    a.download='marks.json';document.body.appendChild(a);a.click();a.remove();});
  function post(action,list,confirmed){var status=document.getElementById('status');
    return fetch(serveBase+action,{method:'POST',headers:{'Content-Type':'application/json'},
      body:JSON.stringify({job_ids:list,confirmed:!!confirmed})}).then(function(r){return r.json();})
      .then(function(j){status.textContent=j.message||'';return j;});}
  if(serveBase){
    document.getElementById('do-keep').addEventListener('click',function(){var k=ids('keep');
      if(k.length)post('download',k,true);});
    document.getElementById('do-reject').addEventListener('click',function(){var r=ids('reject');
      if(r.length&&window.confirm('Delete '+r.length+' video(s) for good?'))post('delete',r,true);});}
  sort();shown();commands();
})();
"""


def render_gallery(cards: list["Card"], summary: dict[str, Any], *, now: float, title: str,
                   sources: dict[str, dict[str, str | None]] | None = None, api: str = "") -> str:
    """The page. `sources` overrides each card's src values (the --serve page names files by URL);
    `api`: where the keep/reject buttons post (--serve only; a file page only shows commands)."""
    nonce = secrets.token_urlsafe(16)
    statuses = sorted({c.status for c in cards})
    labels = sorted({c.label for c in cards if c.label})
    default = {c.id: {"video": c.video, "poster": c.poster, "image": c.image} for c in cards}
    src = {**default, **(sources or {})}
    credits = f"{summary['estimated_low']}" + (f"-{summary['estimated_high']}"
                                               if summary["estimated_high"] != summary["estimated_low"] else "")
    line = (f"{summary['jobs']} job(s); credits estimated {credits}, charged {summary['charged']}; "
            f"{summary['saved']} saved; {summary['expiring']} expiring within a day and not saved")
    csp = (f"default-src 'none'; img-src 'self' http: https: file: blob: data:; media-src 'self' http: https: file:; "
           f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; connect-src 'self'; form-action 'none'; "
           "base-uri 'none'")
    act = ('<button type="button" id="do-keep">Download kept</button> '
           '<button type="button" id="do-reject">Delete rejected</button> <span id="status"></span>') if api else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">'
        '<meta name="referrer" content="no-referrer">'
        f"<meta name=\"viewport\" content=\"width=device-width\"><title>{_e(title)}</title>"
        f'<style nonce="{nonce}">{STYLE}</style></head>'
        f'<body data-api="{_e(api)}"><header><h1>{_e(title)}</h1><p id="summary">{_e(line)}</p>'
        f'<p>Made {_e(time.strftime("%Y-%m-%d %H:%M", time.localtime(now)))} by akool gallery; times are as of then.</p>'
        '</header><div class="controls">'
        f'<label>Status <select id="f-status"><option value="">all</option>{_options(statuses)}</select></label>'
        f'<label>Effect / model <select id="f-label"><option value="">all</option>{_options(labels)}</select></label>'
        '<label>Sort <select id="f-sort"><option value="newest">newest</option><option value="oldest">oldest'
        '</option><option value="cost">cost</option></select></label><span id="shown"></span></div>'
        f"<main>{''.join(_card(c, now, src[c.id], n < EAGER_VIDEOS) for n, c in enumerate(cards))}</main>"
        '<section id="review"><h2>Review: <span id="counts"></span></h2>'
        '<p>Nothing on this page spends credits. Run these, or save the marks and use '
        '<code>akool download --from-file marks.json</code> / <code>akool delete --from-file marks.json</code>:</p>'
        f'<pre id="commands"></pre><button type="button" id="save">Save marks (marks.json)</button> {act}</section>'
        f'<script nonce="{nonce}">{SCRIPT}</script>'
        f'<script type="application/json" id="cards-data">{_data(cards)}</script></body></html>\n')


def _data(cards: list["Card"]) -> str:
    """The cards' ids and statuses for tools that read the page; `<` escaped so no text ends the script."""
    text = json.dumps([{"_id": c.id, "status": c.status, "key": c.key} for c in cards], ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
