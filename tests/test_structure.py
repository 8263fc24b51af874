"""The shape of the code: no import cycle among the project's modules (lazy imports included), short
page files, and no run label parsed back out of a display name."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("nn_core", "app_support", "app_pages")
MAX_PAGE_LINES = 150


def project_modules() -> dict:
    """Dotted name -> path of every project module: the packages' files, and the router."""
    modules = {"streamlit_app": ROOT / "streamlit_app.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict) -> set:
    """The project modules `name` imports anywhere in its file: at the top, inside functions, in
    try blocks (every ast.Import and ast.ImportFrom)."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:                                 # from . import x / from .x import y
                base = ".".join([package, *([base] if base else [])])
            # `from pkg import x` imports the module pkg.x when there is one, else a name of pkg
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def import_graph() -> dict:
    modules = project_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict) -> list | None:
    """One import cycle of `graph` (module -> set of modules) as [a, b, ..., a], or None."""
    done, on_path = set(), []

    def visit(node):
        if node in on_path:
            return on_path[on_path.index(node):] + [node]
        if node in done:
            return None
        on_path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        on_path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_the_import_walk_sees_top_level_relative_and_lazy_imports():
    graph = import_graph()
    assert "app_support.server" in graph["app_support.session"]          # from . import identity, server
    assert "nn_core.run" in graph["app_support.server"]                  # inside trainer_pool()
    assert "nn_core.torch_twin" in graph["nn_core.twins"]                # inside make_twin()
    assert "app_support.session" in graph["app_pages.home"]              # below the page's first lines
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_project_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_every_page_file_is_short():
    for path in sorted((ROOT / "app_pages").glob("*.py")):
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_PAGE_LINES, f"{path.name} has {lines} lines; move a section into app_support"


# A run's label is `run.label`; its display name ("run 3 · numpy, torch · sample.csv") is for showing.
PARSES_A_NAME = re.compile(r"""\.name\.(r?split|partition|rpartition)\(|split\(\s*["'] · ["']""")


def test_nothing_parses_a_run_display_name():
    assert PARSES_A_NAME.search('label = run.name.split(" · ")[0]')         # the pattern catches it
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in project_modules().values()
                 for number, line in enumerate(path.read_text().splitlines(), start=1)
                 if PARSES_A_NAME.search(line)]
    assert offenders == []
