"""The shipped default model: loads offline, labels clear lines, works with transformers.pipeline."""
import pytest

from classifier import LineClassifier, analyze_posting
from classifier.model import DEFAULT_MODEL_NAME, MODELS_DIR

pytestmark = pytest.mark.slow

CLEAR_LINES = [
    ("Own the product roadmap and prioritise the backlog with engineering.", "What you'll do", "PM"),
    ("Write clear user stories with acceptance criteria.", "Responsibilities", "PM"),
    ("Run sprint planning and backlog grooming with the scrum team.", "Responsibilities", "PM"),
    ("Craft positioning and messaging for new product launches.", "What you'll do", "PMM"),
    ("Build battlecards and train the sales team on competitive objections.", "Responsibilities", "PMM"),
    ("Own the go-to-market plan for our enterprise tier.", "Responsibilities", "PMM"),
    ("Build and maintain lead scoring models in Marketo.", "Responsibilities", "marketing-ops"),
    ("Manage the HubSpot instance, workflows and email sends.", "What you'll do", "marketing-ops"),
    ("Report weekly on MQL-to-SQL conversion and campaign attribution.", "Responsibilities", "marketing-ops"),
    ("We offer a competitive salary, equity and 30 days of holiday.", "Benefits", "other"),
    ("We are an equal opportunity employer.", "", "other"),
    ("Conduct customer interviews and market research to understand our buyers and users.", "What you'll do", "shared"),
]


@pytest.fixture(scope="module")
def classifier():
    return LineClassifier.from_pretrained()


def test_shipped_model_labels_clear_lines(classifier):
    predictions = classifier.predict([{"text": t, "section": s} for t, s, _ in CLEAR_LINES])
    assert [p.label for p in predictions] == [label for _, _, label in CLEAR_LINES]


def test_batch_and_single_calls_agree(classifier):
    import numpy as np

    lines = [{"text": t, "section": s} for t, s, _ in CLEAR_LINES]
    batch = classifier.predict_proba(lines)
    single = np.concatenate([classifier.predict_proba([line]) for line in lines])
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_transformers_pipeline_loads_the_shipped_folder():
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(MODELS_DIR / DEFAULT_MODEL_NAME), device="cpu")
    out = pipe({"text": "Build and maintain lead scoring models in Marketo.", "text_pair": "Responsibilities"})
    assert out["label"] == "marketing-ops"


def test_analyze_posting_on_a_focused_posting(classifier):
    duties = [t for t, _, label in CLEAR_LINES if label == "PM"]
    text = "Responsibilities\n" + "\n".join(f"- {t}" for t in duties + ["Define success metrics and track feature adoption.",
                                                                      "Ship features with engineering and design every sprint.",
                                                                      "Decide technical trade-offs with the tech lead."])
    assert analyze_posting(text, classifier=classifier).verdict == "focused-PM"
