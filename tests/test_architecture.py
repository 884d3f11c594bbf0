"""The package's structure: the import-linter contracts of pyproject.toml (the layers), no module
reaching into another module's private names, and no public function with more than 10
parameters (settings go into config objects)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "robustrep_lite"
MAX_PARAMETERS = 10


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (packages by their ``__init__.py``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute dotted name of ``from <level dots><module> import ...`` in ``importer``."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join(base + ([module] if module else []))


def private_access(source: str, importer: str, is_package: bool = False) -> list[str]:
    """The places where the module ``importer`` (of source ``source``) uses a private name of
    another module of the package: ``from <module> import _name``, or ``<module>._name`` on a
    module it imported."""
    found = []
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> package module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "robustrep_lite":
                    local = a.asname or a.name.split(".")[0]
                    aliases[local] = a.name if a.asname else "robustrep_lite"
        elif isinstance(node, ast.ImportFrom):
            source_module = _resolve(node.module, node.level, importer, is_package)
            if source_module.split(".")[0] != "robustrep_lite":
                continue
            for a in node.names:
                if source_module != importer and _private(a.name):
                    found.append(f"line {node.lineno}: from {source_module} import {a.name}")
                if f"{source_module}.{a.name}" in MODULES:
                    aliases[a.asname or a.name] = f"{source_module}.{a.name}"
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        chain, value = [], node.value
        while isinstance(value, ast.Attribute):
            chain.insert(0, value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in aliases:
            module = ".".join([aliases[value.id], *chain])
            if module in MODULES and module != importer:
                found.append(f"line {node.lineno}: {module}.{node.attr}")
    return found


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> int:
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args)]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if method and not static and names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names) + len(a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None)


def long_signatures(source: str) -> dict[str, int]:
    """Public functions, and public methods (``__init__`` included) of public classes, at the
    top level of ``source`` with more than MAX_PARAMETERS parameters (self and cls not counted),
    by qualified name."""
    found = {}
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.parse(source).body:
        if isinstance(node, functions) and not node.name.startswith("_"):
            if (n := _parameters(node, method=False)) > MAX_PARAMETERS:
                found[node.name] = n
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if not isinstance(item, functions):
                    continue
                if not item.name.startswith("_") or item.name == "__init__":
                    if (n := _parameters(item, method=True)) > MAX_PARAMETERS:
                        found[f"{node.name}.{item.name}"] = n
    return found


# ----------------------------------------------------------------------------------------------
# The package itself
# ----------------------------------------------------------------------------------------------
def test_the_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_uses_another_modules_private_names(module: str) -> None:
    path = MODULES[module]
    assert private_access(path.read_text(), module, path.name == "__init__.py") == []


def test_no_public_function_has_more_than_ten_parameters() -> None:
    found = {
        (str(path.relative_to(ROOT)), name): n
        for path in MODULES.values()
        for name, n in long_signatures(path.read_text()).items()
    }
    assert found == {}


# ----------------------------------------------------------------------------------------------
# The checks catch what they should
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source",
    [
        "from robustrep_lite.training.spectral import _check_weight_layer",
        "from ..training.spectral import ARMS, _check_weight_layer",
        "from robustrep_lite.training import spectral\nspectral._check_weight_layer(None)",
        "import robustrep_lite.training.spectral as s\ns._CONV",
        "import robustrep_lite.training.spectral\nrobustrep_lite.training.spectral._CONV",
    ],
)
def test_private_access_is_found(source: str) -> None:
    assert len(private_access(source, "robustrep_lite.experiments.zoo")) == 1


@pytest.mark.parametrize(
    "source",
    [
        "from robustrep_lite.training.spectral import ARMS, __all__",
        "from .zoo import _image_shape",  # its own module, seen from itself
        "import torch\ntorch._C",
        "from robustrep_lite.training import spectral\nspectral.ARMS.__len__()",
    ],
)
def test_public_access_is_not_flagged(source: str) -> None:
    assert private_access(source, "robustrep_lite.experiments.zoo") == []


def test_private_access_resolves_relative_imports_in_packages() -> None:
    source = "from .spectral import _CONV"
    assert private_access(source, "robustrep_lite.training", is_package=True) == [
        "line 1: from robustrep_lite.training.spectral import _CONV"
    ]


def test_long_signatures_are_found() -> None:
    params = ", ".join(f"a{i}" for i in range(10))
    source = (
        f"def ok({params}): ...\n"
        f"def too_long({params}, *, b): ...\n"
        f"def star({params}, *args): ...\n"
        f"def _private({params}, b): ...\n"
        f"class Public:\n"
        f"    def __init__(self, {params}): ...\n"
        f"    def method(self, {params}, b): ...\n"
        f"    @staticmethod\n"
        f"    def static(a, {params}): ...\n"
        f"    def _helper(self, {params}, b): ...\n"
        f"class _Private:\n"
        f"    def __init__(self, {params}, b): ...\n"
    )
    assert long_signatures(source) == {
        "too_long": 11,
        "star": 11,
        "Public.method": 11,
        "Public.static": 11,
    }
