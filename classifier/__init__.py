"""jd-roles: who a job description is really asking for, line by line."""
from .errors import InputError, ModelError
from .labels import LABEL_NAMES, LABELS, ROLE_LABELS
from .readers import Document, read_bytes, read_path, read_text
from .segment import Line, segment, segment_document


def __getattr__(name):  # the model stack imports torch: load it only when asked for
    if name in ("LineClassifier", "Prediction"):
        from . import model
        return getattr(model, name)
    if name in ("analyze_posting", "PostingAnalysis", "VerdictRules"):
        from . import analysis
        return getattr(analysis, name)
    raise AttributeError(f"module 'classifier' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Document", "InputError", "LABELS", "LABEL_NAMES", "Line", "LineClassifier", "ModelError", "PostingAnalysis",
    "Prediction", "ROLE_LABELS", "VerdictRules", "analyze_posting",
    "read_bytes", "read_path", "read_text", "segment", "segment_document", "__version__",
]
