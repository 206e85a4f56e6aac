"""jd-roles: who a job description is really asking for, line by line."""
from .errors import InputError, ModelError
from .labels import LABEL_NAMES, LABELS, ROLE_LABELS
from .readers import Document, read_bytes, read_path, read_text
from .segment import Line, segment, segment_document

__version__ = "0.1.0"

__all__ = [
    "Document", "InputError", "LABELS", "LABEL_NAMES", "Line", "ModelError", "ROLE_LABELS",
    "read_bytes", "read_path", "read_text", "segment", "segment_document", "__version__",
]
