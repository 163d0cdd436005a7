"""Imports flow one way: cli -> api -> runners -> codec -> predictors/backend -> coder,
formats. Every module of the package has a layer here, and may import (at module level or
inside a function) only from lower layers; nacz/coder and nacz/formats import nothing of
nacz's but themselves. A new module fails this test until it is given its place."""

from __future__ import annotations

import ast
from pathlib import Path

import nacz

PACKAGE = Path(nacz.__file__).resolve().parent

#: Lowest first. Within a layer, modules do not import each other.
LAYERS: list[set[str]] = [
    # the foundation: the coder, the container, and small modules that import nothing
    {"coder", "formats", "paths", "interrupts", "cpu_share", "segmenter", "cm_child"},
    {"errors"},
    # settings, the model file, the tokenizer, the off-model coders
    {"config", "model_file", "tokenizer", "cm_codecs"},
    {"model_gate", "components", "binary_codec", "header"},
    # the predictors, the layout folds, llama.cpp
    {"predictors", "layout", "backend"},
    {"codec"},
    # what runs the codec: a group's job, a block's plan, a text's token costs
    {"jobs", "explain", "blocks"},
    # the runners
    {"workers"},
    {"ray_runner"},
    {"api"},
    {"fileobj"},
    {"cli"},
    {"__main__"},
]


def _modules() -> dict[str, Path]:
    """Module name (relative to nacz; the coder and formats subpackages as one unit each)
    -> its files."""
    found: dict[str, list[Path]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts == ["__init__"]:
            continue  # the package's face: light, lazy, checked by its own tests
        found.setdefault(parts[0], []).append(path)
    return found


def _imports(path: Path, unit: str) -> set[str]:
    """The nacz units ``path`` imports (relative or absolute), its own unit and the
    package's face (``import nacz``, ``from .. import __version__``) left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["nacz", *path.relative_to(PACKAGE).parts[:-1]]  # the file's own package
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                names.add(".".join(base + [node.module]))
            else:
                names.update(".".join(base + [a.name]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nacz"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("nacz"))
    units = set()
    for name in names:
        parts = name.split(".")
        if len(parts) < 2 or parts[1] == "__version__":
            continue
        units.add(parts[1])
    units.discard(unit)
    return units


def test_every_module_has_a_layer():
    placed = set().union(*LAYERS)
    assert set(_modules()) - placed == set(), "give the new module a layer in LAYERS"
    assert placed - set(_modules()) == set(), "LAYERS names a module that is gone"


def test_imports_go_down_the_layers():
    layer = {m: i for i, names in enumerate(LAYERS) for m in names}
    wrong = []
    for unit, paths in _modules().items():
        for path in paths:
            for target in _imports(path, unit):
                if target not in layer:
                    wrong.append(f"{path.name} imports unknown nacz.{target}")
                elif layer[target] >= layer[unit]:
                    wrong.append(f"{unit} ({path.name}, layer {layer[unit]}) imports "
                                 f"{target} (layer {layer[target]})")
    assert not wrong, "\n".join(wrong)


def test_coder_and_formats_import_only_the_standard_library_and_numpy():
    for unit in ("coder", "formats"):
        for path in _modules()[unit]:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level:
                    continue  # within the unit (test_imports_go_down_the_layers)
                mods = ([node.module] if isinstance(node, ast.ImportFrom) else
                        [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                for mod in mods:
                    assert not (mod or "").startswith("nacz"), (path, mod)


def test_every_subpackage_of_the_source_tree_is_installed():
    """A subpackage the build leaves out passes in an editable install and fails in CI's."""
    import importlib

    source = Path(__file__).resolve().parent.parent / "nacz"
    for init in sorted(source.rglob("__init__.py")):
        rel = init.parent.relative_to(source.parent)
        mod = importlib.import_module(".".join(rel.parts))
        assert Path(mod.__file__).name == "__init__.py", rel
