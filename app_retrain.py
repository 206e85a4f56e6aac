"""The web page's Retrain tab: upload labelled lines, validate them, train a new model with
live progress, compare it with the current one, and switch models.

A thin layer over ``training.teamdata`` / ``training.retrain`` (the same code as
``jdroles validate`` and ``jdroles train --data``) and ``classifier.registry``
(``jdroles models``). Training runs in a worker thread; the page streams its log.
"""
from __future__ import annotations

import queue
import re
import threading
from pathlib import Path

import gradio as gr

from classifier import registry
from classifier.errors import InputError, ModelError
from classifier.model import LineClassifier

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MODEL_HEADERS = ["default", "name", "macro-F1 (eval sets)", "size (MB)", "created", "problem"]


class RetrainPanel:
    def __init__(self, app, models_root: Path | None = None):
        self.app = app  # the page's App: its classifier is swapped when the default changes
        self.models_root = models_root

    # --- data -------------------------------------------------------------------------------
    def specs(self, files, use_corrections: bool) -> list[str]:
        specs = [f if isinstance(f, str) else f.name for f in (files or [])]
        if use_corrections:
            specs.append("corrections")
        if not specs:
            raise gr.Error("Upload a CSV / JSONL / Parquet file of labelled lines, or tick 'use my corrections'.")
        return specs

    def load(self, files, use_corrections: bool):
        from training.teamdata import load_team_data

        try:
            return load_team_data(self.specs(files, use_corrections), corrections_db=self.app.store.path)
        except InputError as err:
            raise gr.Error(str(err)) from err

    def validate(self, files, use_corrections: bool) -> str:
        team = self.load(files, use_corrections)
        verdict = ("**Ready to train.**" if team.ok else
                   f"**{len(team.errors)} problem(s): fix them, or tick 'train anyway' to leave those rows out.**")
        counts = ", ".join(f"{label} {n}" for label, n in team.label_counts().items())
        return f"{verdict}\n\nUsable lines: {len(team.records)} ({counts}).\n\n```\n{team.report()}\n```"

    # --- training ---------------------------------------------------------------------------
    def train(self, files, use_corrections: bool, name: str, base: str, mix: str, force: bool, max_steps: int = -1,
              shared_eval: bool = True):
        """A generator: yields (log, comparison markdown, models table, model choices) as training runs."""
        from training.retrain import RetrainConfig, check_new_folder, new_model_folder, parse_mix, train_on_team_data
        from training.train import TrainConfig

        name = (name or "").strip()
        if not NAME_PATTERN.match(name):
            raise gr.Error("Name the new model with letters, digits, '.', '_' or '-' (e.g. acme-2026-12).")
        out = registry.models_dir() / name if self.models_root is None else self.models_root / name
        try:
            check_new_folder(out)
            mix_value = parse_mix(str(mix or "8").strip())
        except InputError as err:
            raise gr.Error(str(err)) from err
        team = self.load(files, use_corrections)
        if not team.ok and not force:
            raise gr.Error(f"{len(team.errors)} problem(s) in the data: press Validate to see them, or tick 'train anyway'.")
        if not team.records:
            raise gr.Error("No usable labelled lines to train on.")
        messages: queue.Queue = queue.Queue()
        outcome: dict = {}

        def work():
            try:
                config = RetrainConfig(base=base or "default", mix_corpus=mix_value, shared_eval=shared_eval)
                with new_model_folder(out) as staging:
                    outcome["result"] = train_on_team_data(staging, team, TrainConfig(max_steps=int(max_steps)), config,
                                                           name=name, log=messages.put)
            except (InputError, ModelError) as err:
                outcome["error"] = str(err)
            except Exception as err:  # shown on the page; the folder is never left half-written
                outcome["error"] = f"training failed: {type(err).__name__}: {err}"
            finally:
                messages.put(None)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        log: list[str] = []
        while True:
            message = messages.get()
            if message is None:
                break
            log.append(str(message))
            yield "\n".join(log[-200:]), gr.update(), gr.update(), gr.update()
        thread.join()
        if "error" in outcome:
            raise gr.Error(outcome["error"])
        comparison = (out / "eval.md").read_text(encoding="utf-8") if (out / "eval.md").is_file() else ""
        log.append(f"saved {out}; switch to it below when the comparison convinces you")
        table = self.models_table()
        names = self.usable_names(table)
        yield "\n".join(log[-200:]), comparison, table, gr.update(choices=names, value=name if name in names else None)

    # --- models -----------------------------------------------------------------------------
    def models_table(self) -> list[list]:
        rows = []
        for m in registry.list_models(self.models_root):
            f1 = ", ".join(f"{k} {v:.3f}" for k, v in m.macro_f1.items())
            rows.append(["*" if m.is_default else "", m.name, f1, round(m.size_bytes / 1e6, 1), m.created, m.problem])
        return rows

    @staticmethod
    def usable_names(table: list[list]) -> list[str]:
        """The names in a :meth:`models_table` of models that load (no problem noted)."""
        return [row[1] for row in table if not row[5]]

    def use(self, name: str):
        if not name:
            raise gr.Error("Pick a model first.")
        try:
            registry.use_model(name, self.models_root)
            self._reload()
        except (InputError, ModelError) as err:
            raise gr.Error(str(err)) from err
        return f"The page now uses **{name}** (the previous default is kept: 'Switch back' undoes this).", self.models_table()

    def switch_back(self):
        try:
            previous, _ = registry.use_previous(self.models_root)
            self._reload()
        except (InputError, ModelError) as err:
            raise gr.Error(str(err)) from err
        return f"Switched back to **{previous}**.", self.models_table()

    def _reload(self) -> None:
        root = self.models_root or registry.models_dir()
        name = registry.default_name(root)
        self.app.classifier = LineClassifier.from_pretrained(root / name)


def retrain_tab(panel: RetrainPanel) -> None:
    """Build the tab's components and wire them (call inside ``gr.Blocks``)."""
    with gr.Tab("Retrain"):
        gr.Markdown("Teach the model your own split: upload lines labelled **PM**, **PMM**, **shared**, "
                    "**marketing-ops** or **other** (CSV / JSONL / Parquet with `text`, `label`, optional `section`, "
                    "`posting_id`), check them, train a new model (the current one stays until you switch), compare, "
                    "and switch. Training uses this machine's CPU or GPU for several minutes.")
        with gr.Row():
            files = gr.File(label="Labelled lines", file_count="multiple", file_types=[".csv", ".jsonl", ".parquet"],
                            elem_id="retrain-files")
            with gr.Column():
                use_corrections = gr.Checkbox(label="Also use the corrections saved on the Analyse tab",
                                              elem_id="retrain-corrections")
                validate = gr.Button("Validate", elem_id="retrain-validate")
        report = gr.Markdown(elem_id="retrain-report")
        with gr.Row():
            name = gr.Textbox(label="New model name", placeholder="acme-2026-12", max_lines=1, elem_id="retrain-name")
            base = gr.Dropdown(label="Start from", choices=["default", "scratch"], value="default", elem_id="retrain-base")
            mix = gr.Textbox(label="Corpus lines per line of yours (0 = yours alone, all)", value="8", max_lines=1,
                             elem_id="retrain-mix")
            force = gr.Checkbox(label="Train anyway (leave rows with errors out)", elem_id="retrain-force")
        train = gr.Button("Train a new model", variant="primary", elem_id="retrain-train")
        log = gr.Textbox(label="Progress", lines=8, max_lines=12, elem_id="retrain-log", autoscroll=True)
        comparison = gr.Markdown(elem_id="retrain-comparison")
        gr.Markdown("### Models")
        models = panel.models_table()
        table = gr.Dataframe(headers=MODEL_HEADERS, value=models, interactive=False, elem_id="models-table")
        with gr.Row():
            choice = gr.Dropdown(label="Model", choices=panel.usable_names(models), elem_id="models-choice")
            use = gr.Button("Use this model", elem_id="models-use")
            back = gr.Button("Switch back", elem_id="models-back")
        switched = gr.Markdown(elem_id="models-status")
    validate.click(panel.validate, [files, use_corrections], report, api_name=False)
    train.click(panel.train, [files, use_corrections, name, base, mix, force], [log, comparison, table, choice],
                api_name=False)
    use.click(panel.use, choice, [switched, table], api_name=False)
    back.click(panel.switch_back, None, [switched, table], api_name=False)
