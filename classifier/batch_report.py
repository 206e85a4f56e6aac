"""The summary of a batch run and its HTML report.

:class:`SummaryBuilder` is fed the posting rows chunk by chunk (memory stays flat: counters,
fixed histograms and a bounded heap of the most mixed postings). ``write_report`` renders
the summary as one self-contained HTML file with the plots embedded.
"""
from __future__ import annotations

import base64
import heapq
import html
import io
import os
from collections import Counter
from pathlib import Path

from .labels import COLOURS, VERDICTS

SHARE_BINS = 10
TOP_MIXED = 25
TOP_GROUPS = 15
SHARE_COLUMNS = {"PM": "pm_share", "PMM": "pmm_share", "marketing-ops": "marketing_ops_share"}


def _group_key(column: str, value) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    if not text:
        return None
    if column == "date":
        return text[:7]  # year-month of an ISO date; other formats are kept as written
    return text.lower() if column == "company" else text


class SummaryBuilder:
    def __init__(self):
        self.postings = 0
        self.verdicts: Counter = Counter()
        self.mixed_roles: Counter = Counter()
        self.share_hist = {role: [0] * SHARE_BINS for role in SHARE_COLUMNS}
        self.load_hist = [0] * 12  # role load 1.0 .. 3.0 in steps of 0.2, inverse-Simpson effective roles
        self.title_mismatches = 0
        self.most_mixed: list[tuple] = []
        self.groups = {column: {"total": Counter(), "mixed": Counter()} for column in ("title", "company", "date")}

    def add(self, table) -> None:
        for row in table.to_pylist():
            self.add_row(row)

    def add_row(self, row: dict) -> None:
        self.postings += 1
        verdict = row["verdict"]
        self.verdicts[verdict] += 1
        if verdict == "mixed":
            self.mixed_roles[row["mixed_roles"]] += 1
        if verdict != "not-enough-signal":
            for role, column in SHARE_COLUMNS.items():
                self.share_hist[role][min(int(row[column] * SHARE_BINS), SHARE_BINS - 1)] += 1
            self.load_hist[min(max(int((row["role_load"] - 1.0) / 0.2), 0), len(self.load_hist) - 1)] += 1
        if row.get("title_consistent") is False:
            self.title_mismatches += 1
        if verdict == "mixed":
            item = (row["role_load"], -row["seq"], {k: row[k] for k in (
                "source", "title", "company", "mixed_roles", "role_load", "pm_share", "pmm_share",
                "marketing_ops_share", "headline")})
            if len(self.most_mixed) < TOP_MIXED:
                heapq.heappush(self.most_mixed, item)
            else:
                heapq.heappushpop(self.most_mixed, item)
        for column, counters in self.groups.items():
            key = _group_key(column, row.get(column))
            if key is not None:
                counters["total"][key] += 1
                counters["mixed"][key] += verdict == "mixed"

    def result(self) -> dict:
        by = {}
        for column, counters in self.groups.items():
            if not counters["total"]:
                continue
            keys = (sorted(counters["total"]) if column == "date"
                    else [k for k, _ in counters["total"].most_common(TOP_GROUPS)])
            by[column] = [{"value": k, "postings": counters["total"][k], "mixed": counters["mixed"][k],
                           "mixed_share": round(counters["mixed"][k] / counters["total"][k], 4)} for k in keys]
        return {
            "postings": self.postings,
            "verdicts": {v: self.verdicts.get(v, 0) for v in VERDICTS},
            "mixed_share": round(self.verdicts["mixed"] / self.postings, 4) if self.postings else 0.0,
            "mixed_roles": dict(self.mixed_roles.most_common()),
            "title_mismatches": self.title_mismatches,
            "role_share_histogram": {"bins": SHARE_BINS, **self.share_hist},
            "role_load_histogram": {"start": 1.0, "step": 0.2, "counts": self.load_hist},
            "most_mixed": [item[2] for item in sorted(self.most_mixed, reverse=True)],
            "mixed_by": by,
        }


def format_summary(summary: dict) -> str:
    """A few readable lines for the terminal."""
    n = summary["postings"]
    lines = [f"{n} postings classified, {summary['errors']} unreadable"
             + (f" (see {summary['errors_file']})" if summary.get("errors_file") else "")]
    for verdict, count in summary["verdicts"].items():
        if count:
            lines.append(f"  {verdict:<22} {count:>7}  {count / n:6.1%}" if n else f"  {verdict} {count}")
    if summary.get("lines_this_run"):
        lines.append(f"{summary['lines_this_run']} lines, {summary['lines_classified_this_run']} run through the model "
                     f"(dedup {'on' if summary.get('dedup') else 'off'}), backend {summary.get('backend')}, "
                     f"{summary.get('postings_per_s')} postings/s")
    lines.append(f"results: {summary['output']}")
    return "\n".join(lines)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plots(summary: dict) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = {}
    verdicts = {k: v for k, v in summary["verdicts"].items() if v}
    if verdicts:
        fig, ax = plt.subplots(figsize=(6, 2.6))
        colours = [COLOURS.get(v.replace("focused-", ""), "#777777") if v != "mixed" else "#CC79A7" for v in verdicts]
        ax.barh(list(verdicts), list(verdicts.values()), color=colours)
        ax.set_xlabel("postings")
        ax.invert_yaxis()
        plots["verdicts"] = _png(fig)
    hist = summary["role_share_histogram"]
    if any(sum(hist[r]) for r in SHARE_COLUMNS):
        fig, ax = plt.subplots(figsize=(6, 2.8))
        width = 1.0 / hist["bins"]
        for i, role in enumerate(SHARE_COLUMNS):
            xs = [b * width + (i - 1) * width / 3.2 + width / 2 for b in range(hist["bins"])]
            ax.bar(xs, hist[role], width=width / 3.4, label=role, color=COLOURS[role])
        ax.set_xlabel("share of the posting's role lines")
        ax.set_ylabel("postings")
        ax.legend(frameon=False)
        plots["role_mix"] = _png(fig)
    for column, rows in summary["mixed_by"].items():
        if len(rows) < 2:
            continue
        fig, ax = plt.subplots(figsize=(6, 0.3 * len(rows) + 1))
        ax.barh([r["value"][:40] for r in rows], [r["mixed_share"] for r in rows], color="#CC79A7")
        ax.set_xlabel("share of postings judged mixed")
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        plots[f"by_{column}"] = _png(fig)
    return plots


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def render_report(summary: dict) -> str:
    plots = _plots(summary)
    n = summary["postings"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>jd-roles batch report</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:left;font-size:14px}th{background:#f3f3f3}img{max-width:100%}</style></head><body>",
        "<h1>jd-roles batch report</h1>",
        f"<p>{n} postings classified, {summary.get('errors', 0)} unreadable; "
        f"{summary['mixed_share']:.1%} judged <b>mixed</b>; {summary['title_mismatches']} titles that do not match "
        f"their lines. Engine {html.escape(str(summary.get('engine')))}, backend {html.escape(str(summary.get('backend')))}.</p>",
        "<h2>Verdicts</h2>",
        _table([{"verdict": v, "postings": c, "share": c / n if n else 0.0} for v, c in summary["verdicts"].items()],
               ["verdict", "postings", "share"]),
    ]
    if "verdicts" in plots:
        parts.append(f"<img alt='verdict counts' src='{plots['verdicts']}'>")
    if summary["mixed_roles"]:
        parts += ["<h3>Roles mixed</h3>",
                  _table([{"roles": k, "postings": v} for k, v in summary["mixed_roles"].items()], ["roles", "postings"])]
    parts.append("<h2>Role mix</h2>")
    if "role_mix" in plots:
        parts.append(f"<img alt='role-mix distribution' src='{plots['role_mix']}'>")
    if summary["most_mixed"]:
        parts += ["<h2>The most mixed postings</h2><p>Highest role load (effective number of roles) first.</p>",
                  _table(summary["most_mixed"], ["source", "title", "company", "mixed_roles", "role_load",
                                                 "pm_share", "pmm_share", "marketing_ops_share"])]
    for column, rows in summary["mixed_by"].items():
        parts += [f"<h2>Mixed postings by {column}</h2>",
                  _table(rows, ["value", "postings", "mixed", "mixed_share"])]
        if f"by_{column}" in plots:
            parts.append(f"<img alt='mixed share by {column}' src='{plots[f'by_{column}']}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: Path, summary: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_report(summary), encoding="utf-8")
    os.replace(tmp, path)
