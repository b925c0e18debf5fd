"""The docs point at things that exist: every relative link of README.md and docs/*.md resolves to a file
(and its #anchor to a heading), and every config choice they name (`group=name`) is a file under conf/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GROUPS = ("stage", "model", "task", "extractor", "data", "trainer", "experiment", "debug", "logger", "callbacks",
          "paths", "hydra")
LINK = re.compile(r"\]\(([^)\s]+)\)")
CHOICE = re.compile(r"(?<![\w.+/-])(" + "|".join(GROUPS) + r")=([A-Za-z][A-Za-z0-9_]*)\b")


def anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", path.read_text(), flags=re.MULTILINE)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not checked here
            continue
        file, _, fragment = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{target} (no heading #{fragment})")
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_named_config_choices_exist(doc):
    missing = sorted({f"{g}={n}" for g, n in CHOICE.findall(doc.read_text())
                      if not (ROOT / "conf" / g / f"{n}.yaml").is_file()})
    assert not missing, f"{doc.relative_to(ROOT)} names config choices that conf/ does not have: {missing}"


def test_the_checks_see_what_the_docs_name():
    text = "\n".join(d.read_text() for d in DOCS)
    assert len(LINK.findall(text)) > 20 and len(set(CHOICE.findall(text))) > 30  # not vacuous
    assert anchor("## Exit codes and messages"[3:]) == "exit-codes-and-messages"
    assert CHOICE.findall("run `stage=train model=vid2seq_tiny` but not model.init_from=x or +task=y") == [
        ("stage", "train"), ("model", "vid2seq_tiny")]
