"""The notebooks run top to bottom on the offline profile with the shared media (as CI runs them), and git
holds them without outputs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO, SHARED, clip

sys.path.insert(0, str(REPO / "scripts"))
import strip_notebooks  # noqa: E402

NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

# What each notebook's outputs must show, beyond running without an error.
EXPECTED_OUTPUT = {
    "01_quickstart": ['class="vr vr-answer', "data:image/jpeg;base64,", "image/png", 'class="vr vr-trajectory"'],
    "02_memory_explorer": ['class="vr vr-memory"', "image/png", 'class="vr vr-search"', "data:image/jpeg;base64,",
                           "land of the gatekeepers", "What@12."],  # the trailer's dialogue, heard, with word times
    "03_backbones": ['class="vr vr-compare"', 'class="vr vr-answer', "llm_calls", "image/png"],
    "04_eval_analysis": ['class="vr vr-table"', "accuracy", "image/png", 'class="vr vr-failures"',
                         'class="vr vr-answer'],
}


def output_text(nb: nbformat.NotebookNode) -> str:
    """Everything the cells showed, as one string (HTML, text, and the MIME types of images)."""
    chunks = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            chunks.append(out.get("text", ""))
            for mime, value in out.get("data", {}).items():
                chunks.append(mime)
                chunks.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(chunks)


def test_there_are_four_notebooks():
    assert [p.stem for p in NOTEBOOKS] == list(EXPECTED_OUTPUT)


def test_committed_notebooks_carry_no_outputs():
    assert strip_notebooks.main(["--check"]) == 0


def test_strip_removes_outputs_and_counts_but_keeps_source(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=3,
                                     outputs=[nbformat.v4.new_output("stream", text="1\n")])
    cell.metadata["execution"] = {"iopub.status.idle": "2026-01-01"}
    nb.cells = [cell, nbformat.v4.new_markdown_cell("# title")]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert strip_notebooks.main(["--check", str(path)]) == 1
    assert strip_notebooks.main([str(path)]) == 0
    again = nbformat.read(path, as_version=4)
    assert again.cells[0].outputs == [] and again.cells[0].execution_count is None
    assert "execution" not in again.cells[0].metadata
    assert again.cells[0].source == "print(1)" and again.cells[1].source == "# title"
    assert strip_notebooks.main(["--check", str(path)]) == 0


def test_strip_names_a_broken_notebook(tmp_path, capsys):
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{not json")
    assert strip_notebooks.main([str(bad)]) == 2
    assert "broken.ipynb" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the real offline LLM on CPU: about 1-4 min a notebook on a quiet machine
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch):
    clip("moviepy_sintel_trailer_480p.mp4")  # skips when the shared media is absent
    # The kernel inherits this environment: shared media from the tests' location, a store per test.
    monkeypatch.setenv("VIDRECALL_SHARED", str(SHARED))
    monkeypatch.setenv("VIDRECALL_NOTEBOOK_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    shown = output_text(nb)
    for expected in EXPECTED_OUTPUT[path.stem]:
        assert expected in shown, f"{path.name}: no output contains {expected!r}"
    assert "Traceback" not in shown
