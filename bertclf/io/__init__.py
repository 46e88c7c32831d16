"""Reading and writing: tables and texts (any encoding and separator, problems named by file
line), labels and the hold-out split, prediction tables, and model folders (JSON + safetensors,
checksummed, written atomically). The lowest layer above ``errors``: it imports nothing else of
bertclf."""

from bertclf._lazy import lazy_exports

_EXPORTS = {
    "read_table": "files", "read_texts": "files", "write_table": "files", "write_vectors": "files",
    "read_vectors": "files", "atomic_path": "files", "reading": "sniff", "Columns": "labels",
    "read_labelled": "labels", "read_rows": "labels", "read_split": "labels",
    "prediction_table": "predictions",
    "read_model_folder": "modelio", "FORMAT_VERSION": "modelio",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
