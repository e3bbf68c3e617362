"""The packages' import rules (``../shared/DESIGN.md``, README's architecture section), read from the source.

Every module is parsed with ``ast``; it imports a module when it says ``import x`` or ``from x import y``
(anywhere: at the top, in a function, under ``TYPE_CHECKING``), when it passes a string naming it to
``importlib.import_module``, ``__import__`` or ``find_spec``, and, where such a call takes a computed
name, when it holds a string naming a project module (``"simulation.cli"``, ``"signal_control.x:Class"``):
a table of names imported in a loop is an import as much as a literal one.

* ``traffic`` (the vocabulary) imports no other project package;
* ``signal_control`` (controllers, optimiser) imports neither ``detection`` nor ``simulation``;
* the domain packages never import FastAPI/Starlette or ``api``;
* the wiring room ``greenwave`` (console entry point, demo) is imported by a domain package only from
  its command modules (``cli.py``, ``*_cli.py``), for the argument helpers of ``greenwave.cli.common``;
* nothing of the product imports ``tests`` or ``benchmarks``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("traffic", "detection", "signal_control", "simulation", "api", "greenwave", "benchmarks", "tests")
DOMAIN = ("traffic", "detection", "signal_control", "simulation")
PRODUCT = (*DOMAIN, "api", "greenwave")
WEB = ("fastapi", "starlette", "api")
DYNAMIC = {"import_module", "__import__", "find_spec"}
_MODULE_NAME = re.compile(rf"^(?:{'|'.join(PROJECT)})(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_]\w*)?$")


@dataclass(frozen=True)
class Import:
    """``module`` imports ``target`` at ``line`` (``how``: import, from, dynamic or name table)."""

    module: str
    target: str
    line: int
    how: str

    @property
    def package(self) -> str:
        return self.target.split(".")[0]

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target} ({self.how})"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, level: int, module: str, is_package: bool) -> str:
    if level == 0:
        return name
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def imports_of(source: str, module: str, is_package: bool = False) -> list[Import]:
    """Every import ``source`` (the text of ``module``) makes, static and dynamic (see the module docstring)."""
    tree = ast.parse(source)
    found: list[Import] = []
    computed = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, node.lineno, "import") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node.module or "", node.level, module, is_package)
            found.append(Import(module, target, node.lineno, "from"))
        elif isinstance(node, ast.Call) and _call_name(node) in DYNAMIC and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                name = arg.value
                level = len(name) - len(name.lstrip("."))
                found.append(Import(module, _resolve(name.lstrip("."), level, module, is_package), node.lineno,
                                    "dynamic"))
            else:
                computed = True
    if computed:  # a name computed at run time: every project module the source names may be the one
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.match(node.value):
                found.append(Import(module, node.value.partition(":")[0], node.lineno, "name table"))
    return found


def project_modules(packages: tuple[str, ...] = PRODUCT) -> Iterator[tuple[str, Path]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield module_name(path), path


def all_imports(packages: tuple[str, ...] = PRODUCT) -> list[Import]:
    out: list[Import] = []
    for name, path in project_modules(packages):
        out += imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    return out


IMPORTS = all_imports()


def _of(package: str) -> list[Import]:
    return [i for i in IMPORTS if i.module.split(".")[0] == package]


# ---------------------------------------------------------------------------------------------------------------
# the scanner sees what it must


def test_the_scanner_sees_static_and_dynamic_imports() -> None:
    source = '''
import importlib, importlib.util
import simulation.engine as e
from api import main
from . import sibling
from .kernels import stage_choice

def later():
    from detection.detector import YoloDetector
    importlib.import_module("signal_control.max_pressure")
    __import__("fastapi")
    importlib.util.find_spec("detection.cli")

COMMANDS = ["simulation.cli", "greenwave.cli.plan_cmd", "signal_control.x:Controller", "just words", "api"]
def build():
    for name in COMMANDS:
        importlib.import_module(name)
'''
    got = {(i.target, i.how) for i in imports_of(source, "traffic.thing")}
    assert {("simulation.engine", "import"), ("api", "from"), ("traffic", "from"), ("traffic.kernels", "from"),
            ("detection.detector", "from"), ("signal_control.max_pressure", "dynamic"), ("fastapi", "dynamic"),
            ("detection.cli", "dynamic"), ("simulation.cli", "name table"), ("greenwave.cli.plan_cmd", "name table"),
            ("signal_control.x", "name table")} <= got
    assert not {t for t, how in got if how == "name table"} & {"just words", "api"}
    assert ("signal_control.optimize", "dynamic") in {
        (i.target, i.how) for i in imports_of('import importlib\nimportlib.import_module(".optimize", __name__)',
                                              "signal_control.thing")}


def test_the_scanner_reads_every_package() -> None:
    read = {name.split(".")[0] for name, _ in project_modules()}
    assert read == set(PRODUCT)
    assert any(i.module == "greenwave.cli.main" and i.target == "simulation.cli" and i.how == "name table"
               for i in IMPORTS), "the entry point's table of command modules counts as imports"


# ---------------------------------------------------------------------------------------------------------------
# the rules


def test_traffic_imports_no_other_project_package() -> None:
    bad = [str(i) for i in _of("traffic") if i.package in PROJECT and i.package != "traffic"]
    assert bad == []


def test_signal_control_imports_neither_detection_nor_simulation() -> None:
    bad = [str(i) for i in _of("signal_control") if i.package in ("detection", "simulation")]
    assert bad == []


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_import_no_web_framework_nor_the_api(package: str) -> None:
    bad = [str(i) for i in _of(package) if i.package in WEB]
    assert bad == []


def _is_command_module(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last == "cli" or last.endswith("_cli")


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_reach_the_wiring_room_only_from_their_command_modules(package: str) -> None:
    bad = [str(i) for i in _of(package) if i.package == "greenwave" and not _is_command_module(i.module)]
    assert bad == []
    # and only for the argument helpers, never the entry point or the demo
    assert {i.target for i in _of(package) if i.package == "greenwave"} <= {"greenwave.cli.common"}


def test_the_product_imports_neither_tests_nor_benchmarks() -> None:
    bad = [str(i) for i in IMPORTS if i.package in ("tests", "benchmarks")]
    assert bad == []


def test_the_entry_point_and_the_demo_live_in_the_wiring_room() -> None:
    assert not (ROOT / "traffic" / "cli").exists() and not (ROOT / "signal_control" / "demo").exists()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'greenwave = "greenwave.cli.main:main"' in pyproject
    assert '"greenwave*"' in pyproject  # packaged


# ---------------------------------------------------------------------------------------------------------------
# no circles inside a package


def import_cycles(package: str, *, top_level_only: bool = False) -> list[list[str]]:
    """The strongly connected groups (two or more modules, or one importing itself) of ``package``'s
    modules importing each other; ``top_level_only``: only imports made when the module is loaded
    (not inside functions, not under ``TYPE_CHECKING``)."""
    graph: dict[str, set[str]] = {}
    modules = {name for name, _ in project_modules((package,))}
    for name, path in project_modules((package,)):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = _loaded_nodes(tree) if top_level_only else list(ast.walk(tree))
        edges = graph.setdefault(name, set())
        for node in nodes:
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module or "", node.level, name, path.name == "__init__.py")
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and t != package:
                    edges.add(t)
    return _strongly_connected(graph)


def _loaded_nodes(tree: ast.Module) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            out += stmt.orelse
        elif isinstance(stmt, ast.Try):
            out += [*stmt.body, *(s for h in stmt.handlers for s in h.body), *stmt.orelse]
        else:
            out.append(stmt)
    return out


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups)


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path) -> None:
    assert _strongly_connected({"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}) == [
        ["p.a", "p.b", "p.c"]]
    assert _strongly_connected({"p.a": {"p.b"}, "p.b": set()}) == []


@pytest.mark.parametrize("package", ["traffic", "signal_control", "detection", "greenwave"])
def test_no_import_cycles_inside_a_package(package: str) -> None:
    assert import_cycles(package) == []
