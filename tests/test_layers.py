"""The layers of docs/DEVELOPING.md hold: packages import only downward, no import cycles, every import of a
videolang module at module level, and the old paths of moved modules still import (with a warning)."""
from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "videolang"

# Function-level imports of videolang modules that may stay, as {file: {imported module: why}}. Only the import
# cost of a heavy optional third-party dependency is a reason; a cycle never is (move the code down a layer).
ALLOWED_NESTED_IMPORTS: dict[str, dict[str, str]] = {}

# old module path -> (new module path, a name both must give)
MOVED_MODULES = {
    "videolang.extract.media": ("videolang.media.probe", "probe"),
    "videolang.extract.decode": ("videolang.media.decode", "FrameSampling"),
    "videolang.extract.audio": ("videolang.media.audio", "load_audio"),
    "videolang.model.schedule": ("videolang.training.schedule", "warmup_schedule"),
    "videolang.datamodule.samplers": ("videolang.training.samplers", "EpochSeededSampler"),
    "videolang.model.sequences": ("videolang.backbone.sequences", "SequenceBuilder"),
    "videolang.model.parsing": ("videolang.backbone.parsing", "parse_events"),
    "videolang.model.losses": ("videolang.backbone.losses", "label_smoothed_ce"),
    "videolang.model.visual": ("videolang.backbone.visual", "VisualEncoder"),
    "videolang.model.vid2seq": ("videolang.backbone.vid2seq", "Vid2Seq"),
    "videolang.model.streams": ("videolang.backbone.streams", "CommonsenseOptions"),
    "videolang.datamodule.streams": ("videolang.backbone.streams", "RowStream"),
    "videolang.datamodule.sources": ("videolang.backbone.sources", "StoreFeatures"),
    "videolang.builder.converters.srt": ("videolang.builder.srt", "read_srt"),
}

# names a package no longer defines itself: package -> {name: the module that has it now}
MOVED_NAMES = {
    "videolang.datamodule": {
        **dict.fromkeys(("FeatureSource", "MemoryFeatures", "StoreFeatures", "VideoFeatures"),
                        "videolang.backbone.sources"),
        **dict.fromkeys(("RowStream", "align_to_frames"), "videolang.backbone.streams"),
    },
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_import_linter_contracts_are_kept():
    """`lint-imports` with this checkout's pyproject.toml: the layers contract and no cycles in any package."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    proc = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                           "sys.exit(lint_imports_command())", "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def deferred_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The imports inside a function or class, or under `if TYPE_CHECKING:` (not run with the module)."""
    out = []

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) and deferred:
                out.append(child)
            inside = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)) \
                or isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            visit(child, inside)

    visit(tree, False)
    return out


def test_videolang_modules_are_imported_at_module_level():
    """An import of a videolang module inside a function (or under `if TYPE_CHECKING:`) hides a dependency
    from the layers; the code it needs belongs in a lower layer instead."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
        for node in deferred_imports(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolved against this module's package
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    modules = [".".join(base + ([node.module] if node.module else []))]
                else:
                    modules = [node.module or ""]
            else:
                modules = [alias.name for alias in node.names]
            rel = path.relative_to(ROOT).as_posix()
            for module in modules:
                if module.split(".")[0] == "videolang" and module not in ALLOWED_NESTED_IMPORTS.get(rel, {}):
                    found.append(f"{rel}:{node.lineno}: {module}")
    assert not found, "videolang imports below module level:\n" + "\n".join(found)


def test_benchmarks_share_through_common_only():
    """What benchmarks share lives in benchmarks/common.py; a benchmark script never imports another one."""
    found = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}:{node.lineno}: {n}" for n in names if n.rpartition(".")[2].startswith("bench_")]
    assert not found, "\n".join(found)


def test_every_module_left_at_an_old_path_is_tested_and_in_the_changelog():
    shims = {module_name(p) for p in PACKAGE.rglob("*.py")
             if re.search(r"^moved\(__name__", p.read_text(encoding="utf-8"), re.MULTILINE)}
    assert shims == set(MOVED_MODULES)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    for old, (new, _) in MOVED_MODULES.items():
        assert f"`{old}`" in changelog and f"`{new}`" in changelog, old
    for package, names in MOVED_NAMES.items():
        for name in names:
            assert name in changelog, f"{package}.{name}"


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_old_module_paths_import_and_warn(old):
    new, name = MOVED_MODULES[old]
    sys.modules.pop(old, None)  # imported before (another test): run the module at the old path again
    with pytest.warns(DeprecationWarning, match=f"{old} has moved to {new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_the_warning_points_at_the_importing_line():
    sys.modules.pop("videolang.extract.media", None)
    with pytest.warns(DeprecationWarning) as record:
        import videolang.extract.media  # noqa: F401
    assert [Path(w.filename) for w in record if "has moved to" in str(w.message)] == [Path(__file__)]


@pytest.mark.parametrize("package,name", [(p, n) for p, names in sorted(MOVED_NAMES.items()) for n in sorted(names)])
def test_old_package_names_resolve_and_warn(package, name):
    new = MOVED_NAMES[package][name]
    with pytest.warns(DeprecationWarning, match=f"{package}.{name} has moved to {new}.{name}"):
        value = getattr(importlib.import_module(package), name)
    assert value is getattr(importlib.import_module(new), name)
    with pytest.raises(AttributeError):
        getattr(importlib.import_module(package), "no_such_name")
