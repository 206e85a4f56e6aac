"""The recruiter's web page: paste a job description, see who it is really asking for.

    python app.py [--host 127.0.0.1] [--port 7860] [--model PATH] [--auth USER:PASS] [--data-dir DIR]

Environment variables JDROLES_HOST, JDROLES_PORT, JDROLES_MODEL, JDROLES_AUTH and
JDROLES_DATA_DIR do the same. Analytics and every outside call are off; nothing typed
leaves this machine. Pure functions do the work; the Blocks below only wire them up.
"""
from __future__ import annotations

import os

for _key, _value in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                     "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
    os.environ.setdefault(_key, _value)

import argparse
import csv
import html
import io
import json
import tempfile
from pathlib import Path

import gradio as gr

from classifier.analysis import PostingAnalysis, analyze_posting
from classifier.archive import PostingError, iter_postings
from classifier.corrections import CorrectionStore
from classifier.errors import InputError, ModelError
from classifier.labels import COLOURS, LABEL_NAMES, LABELS, ROLE_LABELS
from classifier.model import LineClassifier
from classifier.readers import MAX_INPUT_BYTES, read_path
from classifier.spreadsheet import safe_cell

from app_retrain import RetrainPanel, retrain_tab

MAX_PASTE_CHARS = 100_000
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
EXAMPLES = [("Product Manager (focused PM)", "focused-pm.md"),
            ("Product Marketing Manager (focused PMM)", "focused-pmm.md"),
            ("Product Manager, Growth (a mixed 'mystic PM')", "mixed-mystic-pm.md"),
            ("Marketing Operations Manager", "marketing-ops.md")]
UPLOAD_TYPES = [".txt", ".md", ".html", ".htm", ".pdf", ".docx"]
BATCH_TYPES = UPLOAD_TYPES + [".zip", ".csv", ".jsonl", ".parquet"]


# --- pure functions ------------------------------------------------------------------------

def analysis_csv(result: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["index", "kind", "section", "text", "label", "confidence", "low_confidence",
                     *(f"score_{l}" for l in LABEL_NAMES)])
    for line in result["lines"]:
        writer.writerow([line["index"], line["kind"], safe_cell(line["section"]), safe_cell(line["text"]), line["label"],
                         f"{line['confidence']:.4f}", line["low_confidence"],
                         *(f"{line['scores'].get(l, 0.0):.4f}" for l in LABEL_NAMES)])
    return out.getvalue()


def check_text(text: str | None) -> str:
    if text is None or not text.strip():
        raise InputError("Paste a job description (or upload a file) first.")
    if len(text) > MAX_PASTE_CHARS:
        raise InputError(f"That is {len(text):,} characters; a job description is at most {MAX_PASTE_CHARS:,}. "
                         "Paste one posting at a time (use the Batch tab for many).")
    return text


def verdict_banner(result: dict) -> str:
    verdict = result["verdict"]
    kind = "mixed" if verdict == "mixed" else "focused" if verdict.startswith("focused") else "unclear"
    chips = "".join(f'<span class="chip" style="background:{COLOURS[r]}">{html.escape(r)}</span>'
                    for r in result["mixed_roles"])
    return (f'<div id="verdict-banner" class="verdict verdict-{kind}" data-verdict="{html.escape(verdict)}">'
            f'<div class="verdict-title">{html.escape(result["headline"])}</div>{chips}'
            f'<div class="verdict-sub">Role load {result["role_load"]:.2f} (1 = one role, 3 = three equal roles) · '
            f'{result["counts"].get("PM", 0)} PM, {result["counts"].get("PMM", 0)} PMM, '
            f'{result["counts"].get("marketing-ops", 0)} marketing-ops, {result["counts"].get("shared", 0)} shared lines</div></div>')


def mix_chart(result: dict) -> str:
    bars = "".join(
        f'<div class="mix-row"><span class="mix-label">{r}</span><span class="mix-track">'
        f'<span class="mix-bar" style="width:{result["role_mix"][r] * 100:.1f}%;background:{COLOURS[r]}"></span></span>'
        f'<span class="mix-value">{result["role_mix"][r]:.0%}</span></div>' for r in ROLE_LABELS)
    return (f'<div id="role-mix-chart" class="mix">{bars}<div class="mix-note">Shares of the role lines, weighted by '
            f'confidence; shared lines ({result["shared_share"]:.0%}) are counted apart.</div></div>')


def highlighted(result: dict) -> list[tuple[str, str | None]]:
    """(text, label) pairs for gr.HighlightedText: each line with its label as the category."""
    out = []
    for line in result["lines"]:
        if line["kind"] == "header":
            out.append(("\n" + line["text"] + "\n", None))
        else:
            out.append((line["text"] + (" (?)" if line["low_confidence"] else ""), line["label"]))
            out.append(("\n", None))
    return out


def evidence_markdown(result: dict) -> str:
    roles = result["mixed_roles"] or ([result["verdict"].removeprefix("focused-")] if result["verdict"].startswith("focused") else [])
    if not roles:
        return "No role has enough lines to show evidence."
    parts = []
    for role in roles:
        parts.append(f"**{role}**")
        parts += [f"- {e['text']} *({e['confidence']:.2f})*" for e in result["evidence"][role]]
    return "\n".join(parts)


def line_table(result: dict) -> list[list]:
    return [[l["index"], l["label"], round(l["confidence"], 3), "⚠ low" if l["low_confidence"] else "", l["text"]]
            for l in result["lines"] if l["kind"] != "header"]


def split_text(result: dict) -> str:
    if not result["split"]:
        return "The posting is not mixed: no split needed."
    return "\n\n---\n\n".join(p["text"] for p in result["split"])


def line_choices(result: dict) -> list[tuple[str, int]]:
    return [(f"#{l['index']} [{l['label']}] {l['text'][:90]}", l["index"]) for l in result["lines"] if l["kind"] != "header"]


def legend_html() -> str:
    items = "".join(f'<span class="legend-item"><span class="swatch" style="background:{l.colour}"></span>'
                    f'<b>{l.name}</b>: {html.escape(l.description)}</span>' for l in LABELS)
    return f'<div id="legend" class="legend">{items}</div>'


def write_download(content: str, suffix: str) -> str:
    handle = tempfile.NamedTemporaryFile("w", suffix=suffix, prefix="jd-roles-", delete=False, encoding="utf-8")
    with handle:
        handle.write(content)
    return handle.name


# --- the app -------------------------------------------------------------------------------

CSS = """
.verdict {padding: 14px 18px; border-radius: 10px; border: 2px solid; margin-bottom: 6px}
.verdict-mixed {background: #fff1f0; border-color: #d4380d}
.verdict-focused {background: #f0fff4; border-color: #237804}
.verdict-unclear {background: #fffbe6; border-color: #ad8b00}
.verdict-title {font-size: 1.35em; font-weight: 700}
.verdict-sub {margin-top: 4px; opacity: .85}
.chip {display: inline-block; color: #fff; padding: 1px 8px; border-radius: 8px; margin: 4px 4px 0 0; font-weight: 600}
.mix-row {display: flex; align-items: center; gap: 8px; margin: 3px 0}
.mix-label {width: 110px; font-weight: 600}
.mix-track {flex: 1; background: #eee; height: 16px; border-radius: 4px; overflow: hidden}
.mix-bar {display: block; height: 100%}
.mix-value {width: 44px; text-align: right}
.mix-note {font-size: .85em; opacity: .75; margin-top: 4px}
.legend {display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: .9em}
.swatch {display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px; vertical-align: middle}
"""


class App:
    def __init__(self, classifier: LineClassifier, store: CorrectionStore):
        self.classifier = classifier
        self.store = store

    def analyze(self, text: str, title: str | None = None) -> dict:
        """The API endpoint: the same JSON as ``jdroles analyze --format json``."""
        try:
            result = analyze_posting(check_text(text), title=(title or "").strip() or None, classifier=self.classifier)
        except InputError as err:
            raise gr.Error(str(err)) from err
        return result.to_dict()

    def render(self, result: dict):
        if not result:
            raise gr.Error("No analysis to show yet.")
        return (verdict_banner(result), highlighted(result), mix_chart(result), evidence_markdown(result),
                result["title_check"].get("message") or "No title given.", split_text(result), line_table(result),
                write_download(analysis_csv(result), ".csv"),
                write_download(json.dumps(result, ensure_ascii=False, indent=1), ".json"),
                gr.update(choices=line_choices(result), value=None))

    def load_file(self, path: str | None) -> str:
        if not path:
            return gr.update()
        try:
            return read_path(path).text
        except InputError as err:
            raise gr.Error(f"Could not read that file: {err}") from err

    def correct(self, result: dict, index, label: str | None):
        if not result:
            raise gr.Error("Analyse a posting first, then correct its lines.")
        if index is None or label not in LABEL_NAMES:
            raise gr.Error("Pick a line and the label it should have.")
        line = next((l for l in result["lines"] if l["index"] == int(index)), None)
        if line is None:
            raise gr.Error(f"There is no line #{index} in this analysis.")
        predicted = line["label"]
        self.store.add(line["text"], label, predicted=predicted, section=line["section"], model=result.get("model"))
        line.update(label=label, low_confidence=False, confidence=1.0)
        status = (f'<span id="correction-saved">Saved: line #{int(index)} is now <b>{html.escape(label)}</b> '
                  f"(the model said {html.escape(predicted)}).</span>")
        return result, status, highlighted(result), line_table(result), self.corrections_table()

    def export_corrections(self) -> str:
        path = write_download("", ".jsonl")
        count = self.store.export(path)
        if not count:
            raise gr.Error("No corrections yet: correct a line's label first.")
        return path

    def corrections_table(self) -> list[list]:
        return [[r["id"], r["created_at"], r["label"], r["predicted"], r["text"]] for r in self.store.all()[-200:]]

    def batch(self, files, progress=gr.Progress()):
        if not files:
            raise gr.Error("Upload one or more postings, a zip or a CSV first.")
        paths = [f if isinstance(f, str) else f.name for f in files]
        rows, errors = [], []
        items = list(iter_postings(paths))
        if not items:
            raise gr.Error("No postings found in the upload (supported: txt, md, html, pdf, docx, zip, csv, jsonl, parquet).")
        for item in progress.tqdm(items, desc="analysing postings"):
            if isinstance(item, PostingError):
                errors.append(f"{item.source}: {item.reason}")
                continue
            result: PostingAnalysis = analyze_posting(item.document, title=item.meta.get("title"), classifier=self.classifier)
            rows.append([item.source, result.verdict, ", ".join(result.mixed_roles), result.role_load,
                         *(round(result.role_mix[r], 3) for r in ROLE_LABELS), result.title_check.get("message", "")])
        header = ["source", "verdict", "mixed_roles", "role_load", *(f"share_{r}" for r in ROLE_LABELS), "title_check"]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows([[safe_cell(c) for c in row] for row in rows])
        message = f"{len(rows)} posting(s) analysed" + (f"; {len(errors)} could not be read:\n" + "\n".join(errors) if errors else ".")
        return rows, write_download(out.getvalue(), ".csv"), message


def example_texts() -> list[list[str]]:
    return [[(EXAMPLES_DIR / file).read_text(encoding="utf-8"), title.split(" (")[0]]
            for title, file in EXAMPLES if (EXAMPLES_DIR / file).is_file()]


def build_demo(app: App) -> gr.Blocks:
    with gr.Blocks(title="jd-roles: who is this job description really asking for?") as demo:
        gr.Markdown("# jd-roles\nPaste a job description to see who it is really asking for: every line labelled "
                    "**PM**, **PMM**, **shared**, **marketing-ops** or **other**, and whether the posting is focused or "
                    "a mixed *mystic PM*. Nothing you paste leaves this machine.")
        result_state = gr.State(None)
        with gr.Tab("Analyse"):
            with gr.Row():
                with gr.Column(scale=3):
                    title = gr.Textbox(label="Job title (optional)", elem_id="jd-title", max_lines=1)
                    text = gr.Textbox(label="Job description", lines=14, max_lines=30, elem_id="jd-text",
                                      placeholder="Paste the posting here...")
                    upload = gr.File(label="...or upload a file (txt, md, html, pdf, docx)", file_types=UPLOAD_TYPES,
                                     type="filepath", elem_id="jd-file")
                    run = gr.Button("Analyse", variant="primary", elem_id="analyze-btn")
                    gr.Examples(example_texts(), [text, title], label="Examples: click one, then Analyse")
                with gr.Column(scale=4):
                    banner = gr.HTML(elem_id="verdict")
                    mix = gr.HTML(elem_id="role-mix")
                    title_check = gr.Markdown(elem_id="title-check")
            gr.HTML(legend_html())
            gr.Markdown("Lines marked **(?)** are low-confidence: the model is unsure, so check them yourself.")
            lines = gr.HighlightedText(label="The posting, line by line", color_map=dict(COLOURS), show_legend=True,
                                       combine_adjacent=False, elem_id="highlighted")
            with gr.Row():
                evidence = gr.Markdown(label="Evidence", elem_id="evidence")
                split = gr.Textbox(label="How the role could be split (ready to copy)", lines=12, buttons=["copy"],
                                   elem_id="split")
            table = gr.Dataframe(headers=["#", "label", "confidence", "low confidence?", "line"], interactive=False,
                                 wrap=True, elem_id="line-table", label="Every line with its label and confidence")
            with gr.Row():
                csv_file = gr.File(label="Download CSV", elem_id="download-csv")
                json_file = gr.File(label="Download JSON", elem_id="download-json")
            with gr.Accordion("Correct a label", open=False, elem_id="corrections"):
                with gr.Row():
                    line_pick = gr.Dropdown(label="Line", choices=[], elem_id="correct-line")
                    label_pick = gr.Dropdown(label="Correct label", choices=list(LABEL_NAMES), elem_id="correct-label")
                    save = gr.Button("Save correction", elem_id="save-correction")
                saved = gr.HTML(elem_id="correction-status")
                corrections = gr.Dataframe(headers=["id", "time", "label", "model said", "line"], interactive=False,
                                           value=app.corrections_table(), elem_id="corrections-table")
                with gr.Row():
                    export = gr.Button("Export corrections for retraining (JSONL)", elem_id="export-corrections")
                    export_file = gr.File(label="Corrections (text, section, label)", elem_id="corrections-file")
            raw = gr.JSON(visible=False)
        with gr.Tab("Batch"):
            batch_files = gr.File(label="Postings: several files, a zip, or a CSV / JSONL / Parquet with a text column",
                                  file_count="multiple", file_types=BATCH_TYPES, elem_id="batch-files")
            batch_run = gr.Button("Analyse all", variant="primary", elem_id="batch-btn")
            batch_status = gr.Textbox(label="Status", elem_id="batch-status", lines=3)
            batch_table = gr.Dataframe(headers=["source", "verdict", "mixed roles", "role load", "PM share", "PMM share",
                                                "marketing-ops share", "title check"], interactive=False, wrap=True,
                                       elem_id="batch-table")
            batch_csv = gr.File(label="Download results (CSV)", elem_id="batch-download")
        retrain_tab(RetrainPanel(app))

        upload.upload(app.load_file, upload, text, api_name=False)
        outputs = [banner, lines, mix, evidence, title_check, split, table, csv_file, json_file, line_pick]
        run.click(app.analyze, [text, title], raw, api_name="analyze").success(
            lambda r: r, raw, result_state, api_name=False).success(app.render, result_state, outputs, api_name=False)
        save.click(app.correct, [result_state, line_pick, label_pick], [result_state, saved, lines, table, corrections],
                   api_name=False)
        export.click(app.export_corrections, None, export_file, api_name=False)
        batch_run.click(app.batch, batch_files, [batch_table, batch_csv, batch_status], api_name="batch")
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="jd-roles web page")
    parser.add_argument("--host", default=os.environ.get("JDROLES_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("JDROLES_PORT", "7860")))
    parser.add_argument("--model", default=os.environ.get("JDROLES_MODEL"), help="model folder (default: the default model)")
    parser.add_argument("--auth", default=os.environ.get("JDROLES_AUTH"), help="USER:PASSWORD for basic auth")
    parser.add_argument("--data-dir", default=os.environ.get("JDROLES_DATA_DIR"), help="where corrections are stored")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        classifier = LineClassifier.from_pretrained(args.model)
    except ModelError as err:
        raise SystemExit(f"app.py: error: {err}") from err
    store = CorrectionStore(Path(args.data_dir) / "corrections.sqlite" if args.data_dir else None)
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    if args.auth and (len(auth) != 2 or not all(auth)):
        raise SystemExit("app.py: error: --auth takes USER:PASSWORD")
    demo = build_demo(App(classifier, store))
    demo.queue(default_concurrency_limit=4).launch(
        server_name=args.host, server_port=args.port, auth=auth, share=False, show_error=True,
        max_file_size=f"{MAX_INPUT_BYTES * 50 // 1_000_000}mb", css=CSS)


if __name__ == "__main__":
    main()
