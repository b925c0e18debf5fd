"""Executing the notebooks under test: one place for running them and collecting what they printed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def saved_without_outputs(name: str) -> bool:
    """Notebooks are committed clean: no outputs, no execution counts."""
    nb = json.loads((NOTEBOOKS / name).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return bool(code) and all(not c["outputs"] and c["execution_count"] is None for c in code)


def execute_notebook(name: str, workdir: Path | None = None) -> tuple[list[dict[str, Any]], str]:
    """Run notebooks/<name> top to bottom (the environment set by the caller) and return its outputs and
    their text (streams plus text/plain results); any error cell fails with the error's name and value."""
    import nbclient
    import nbformat

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    resources = {"metadata": {"path": str(workdir)}} if workdir is not None else {}
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources=resources).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    text += "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    return outputs, text
