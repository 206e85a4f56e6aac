"""The five line labels: the single source every other module uses.

Follows the project's labelling standard (LABELS.md): PM owns what is built and how it is
used, PMM how it is bought, shared is work both do together, marketing-ops the execution
machinery of marketing, other everything that is not a role line.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    name: str
    title: str
    description: str
    colour: str  # Okabe-Ito palette: distinguishable with colour-vision deficiency


LABELS: tuple[Label, ...] = (
    Label("PM", "Product management",
          "Builds the product: vision, roadmap, backlog, requirements, discovery, shipping with engineering.",
          "#0072B2"),
    Label("PMM", "Product marketing",
          "Sells the product: positioning, messaging, go-to-market, launches, sales enablement, competitive.",
          "#E69F00"),
    Label("shared", "Shared PM + PMM",
          "Work both do together: market and customer research, voice of the customer, segments, pricing model.",
          "#CC79A7"),
    Label("marketing-ops", "Marketing operations",
          "Runs the marketing machine: automation, CRM, campaigns, lists, attribution reports, channels, content production.",
          "#009E73"),
    Label("other", "Other",
          "Not a role line: company blurb, benefits, legal, headers, generic requirements, other functions' duties.",
          "#999999"),
)

LABEL_NAMES: tuple[str, ...] = tuple(label.name for label in LABELS)
ROLE_LABELS: tuple[str, ...] = ("PM", "PMM", "marketing-ops")  # the roles a posting can mix
ID2LABEL: dict[int, str] = dict(enumerate(LABEL_NAMES))
LABEL2ID: dict[str, int] = {name: i for i, name in ID2LABEL.items()}
COLOURS: dict[str, str] = {label.name: label.colour for label in LABELS}
DESCRIPTIONS: dict[str, str] = {label.name: label.description for label in LABELS}

VERDICTS: tuple[str, ...] = ("focused-PM", "focused-PMM", "focused-marketing-ops", "mixed", "not-enough-signal")


def get_label(name: str) -> Label:
    """Return the label called ``name`` (exact match), or raise KeyError."""
    for label in LABELS:
        if label.name == name:
            return label
    raise KeyError(name)
