"""Executing the notebooks under test: one place for running them and collecting what they printed.

`execute_notebook` runs a notebook in a real Jupyter kernel (a fresh interpreter: the smoke test of the
notebook path); `execute_notebook_in_process` runs the same cells in an IPython shell inside the test
process (magics, `display()` and inline figures work the same), which shares the test run's fixtures and
encoding cache and saves a kernel start-up per notebook. Both return (outputs, text) in the same shape.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from tests.bad_inputs.harness import process_state_kept

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def saved_without_outputs(name: str) -> bool:
    """Notebooks are committed clean: no outputs, no execution counts."""
    nb = json.loads((NOTEBOOKS / name).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return bool(code) and all(not c["outputs"] and c["execution_count"] is None for c in code)


def _text(outputs: list[dict[str, Any]]) -> str:
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    return text + "".join(o.get("data", {}).get("text/plain", "") for o in outputs)


def execute_notebook(name: str, workdir: Path | None = None) -> tuple[list[dict[str, Any]], str]:
    """Run notebooks/<name> top to bottom in a Jupyter kernel (the environment set by the caller) and return
    its outputs and their text (streams plus text/plain results); any error cell fails with its name and value."""
    import nbclient
    import nbformat

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    resources = {"metadata": {"path": str(workdir)}} if workdir is not None else {}
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources=resources).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
    assert not errors, errors
    return outputs, _text(outputs)


@contextlib.contextmanager
def _working_directory(path: Path | None):
    before = Path.cwd()
    if path is not None:
        os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def execute_notebook_in_process(name: str, workdir: Path | None = None) -> tuple[list[dict[str, Any]], str]:
    """Like `execute_notebook`, in an IPython shell of this process (a fresh namespace per notebook)."""
    import matplotlib
    import matplotlib.pyplot as plt
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    backend = matplotlib.get_backend()
    outputs: list[dict[str, Any]] = []
    with process_state_kept(), _working_directory(workdir):
        shell = InteractiveShell.instance()
        shell.reset(new_session=True)
        try:
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                with capture_output() as captured:
                    result = shell.run_cell(cell.source, store_history=False, silent=False)
                if captured.stdout:
                    outputs.append({"output_type": "stream", "name": "stdout", "text": captured.stdout})
                outputs += [{"output_type": "display_data", "data": dict(o.data)} for o in captured.outputs]
                if result.error_before_exec or result.error_in_exec:
                    error = result.error_before_exec or result.error_in_exec
                    raise AssertionError(f"{name}: {type(error).__name__}: {error}\n"
                                         f"{captured.stdout[-3000:]}{captured.stderr[-2000:]}")
        finally:
            plt.close("all")
            matplotlib.use(backend)
            shell.reset(new_session=True)
    return outputs, _text(outputs)
