"""The Bazel BUILD files tell the truth about the Python code.

Every BUILD file is parsed (Starlark's syntax is Python's for the rules used here) and each
`py_library` / `py_binary` / `py_test` is checked against the imports of its `srcs`, read with
`ast` (imports inside functions included):

* every `.py` file under `tfp_nfvi/`, `tests/` and `benchmarks/` is a source of some rule, every
  `*_test.py` of a `py_test`, and every listed source exists;
* every internal dependency label names an existing rule;
* **no missing deps:** a module imported from this repository is a source of the rule itself or
  of one of its direct `deps` (TFP's style: depend on what you import, not on what happens to
  come transitively; the package `__init__.py` of a parent package is not a dependency);
* **no unused deps** (`py_library` only): every internal dep provides a module that the rule
  imports. Tests and binaries may also need code at run time that they do not import (a
  README's snippets, a notebook, a `python -m` subprocess), so for them only missing deps count;
* a source that a rule shares with one of its deps (a `py_binary` over its command's
  `py_library`) is that dep's to check;
* the internal dependency graph has no cycle.

Third-party deps are comments in the BUILD files (`# tensorflow, keras`), so only labels
starting with `//` or `:` are checked. When `bazel` is on the PATH (`apt-get install
bazel-bootstrap`), `bazel query` must also load the tree and find the same rules (skipped
otherwise).
"""

import ast
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("tfp_nfvi", "tests", "benchmarks")
RULES = ("py_library", "py_binary", "py_test")
# Not code of the library: pytest's set-up, and test data (with the scripts that wrote it).
EXEMPT_FILE_NAMES = ("conftest.py",)
EXEMPT_DIR_NAMES = ("testdata", "__pycache__")


class Rule:
    """One py_* rule: its label, kind, source paths (repo-relative) and internal dep labels."""

    def __init__(self, package, kind, name, srcs, deps, build_file):
        self.package, self.kind, self.name = package, kind, name
        self.label = f"//{package}:{name}"
        self.srcs = [_join(package, s) for s in srcs]
        self.deps = [_absolute_label(package, d) for d in deps if d.startswith((":", "//"))]
        self.build_file = build_file


def _join(package, path):
    return f"{package}/{path}" if package else path


def _absolute_label(package, label):
    if label.startswith(":"):
        return f"//{package}{label}"
    if ":" not in label:  # //a/b means //a/b:b.
        return f"{label}:{label.rsplit('/', 1)[-1]}"
    return label


def _build_files():
    return sorted(
        p for p in ROOT.rglob("BUILD")
        if not any(part.startswith((".", "bazel-")) for part in p.relative_to(ROOT).parts)
    )


def _parse_build(path):
    package = path.parent.relative_to(ROOT).as_posix()
    package = "" if package == "." else package
    rules = []
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id in RULES):
            continue
        try:  # `data` may use glob(); the arguments checked here must be literal lists.
            args = {k.arg: ast.literal_eval(k.value) for k in node.value.keywords
                    if k.arg in ("name", "srcs", "deps")}
        except ValueError:
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno}: `name`, `srcs` and `deps` "
                        "must be literal strings and lists")
        rules.append(Rule(package, node.value.func.id, args["name"], args.get("srcs", []),
                          args.get("deps", []), path.relative_to(ROOT)))
    return rules


RULES_BY_LABEL = {r.label: r for path in _build_files() for r in _parse_build(path)}
# A file -> the labels of the rules that list it (a command's file is in a py_library and in
# its py_binary).
OWNERS = {}
for _rule in RULES_BY_LABEL.values():
    for _src in _rule.srcs:
        OWNERS.setdefault(_src, set()).add(_rule.label)


def _python_files():
    for top in SOURCE_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if path.name in EXEMPT_FILE_NAMES or set(relative.parts) & set(EXEMPT_DIR_NAMES):
                continue
            yield relative.as_posix()


def _module_file(module):
    """The repo-relative file of a dotted module name, or None if it is not ours."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(ROOT).as_posix()
    return None


def _imported_files(path):
    """Repo-relative files of this repository's modules imported anywhere in `path`."""
    tree = ast.parse((ROOT / path).read_text(), filename=path)
    package = pathlib.PurePosixPath(path).parent.as_posix().replace("/", ".")
    files = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            # `from a import b`: b is a module of package a, or a name defined in a.
            modules = [f"{base}.{alias.name}" if _module_file(f"{base}.{alias.name}") else base
                       for alias in node.names]
        else:
            continue
        for module in modules:
            if module.split(".")[0] not in SOURCE_DIRS:
                continue
            # `import a.b.c` names a.b.c (its parents' __init__ files are not dependencies).
            parts = module.split(".")
            while parts and _module_file(".".join(parts)) is None:
                parts.pop()
            if parts:
                files.add(_module_file(".".join(parts)))
    return files


def _provided_files(label):
    return set(RULES_BY_LABEL[label].srcs) if label in RULES_BY_LABEL else set()


def test_build_files_parse_into_rules():
    assert len(RULES_BY_LABEL) > 20, sorted(RULES_BY_LABEL)
    for label in ("//:tfp_nfvi", "//tfp_nfvi/models:flow_vae", "//tfp_nfvi/internal:seeds"):
        assert label in RULES_BY_LABEL


@pytest.mark.parametrize("path", list(_python_files()))
def test_every_python_file_is_a_source_of_a_rule(path):
    owners = OWNERS.get(path, set())
    assert owners, f"{path} is not in the srcs of any py_* rule of a BUILD file"
    if path.endswith("_test.py"):
        kinds = {RULES_BY_LABEL[label].kind for label in owners}
        assert "py_test" in kinds, f"test module {path} has no py_test rule (only {owners})"


@pytest.mark.parametrize("label", sorted(RULES_BY_LABEL))
def test_sources_exist_and_dep_labels_resolve(label):
    rule = RULES_BY_LABEL[label]
    missing_files = [s for s in rule.srcs if not (ROOT / s).is_file()]
    assert not missing_files, f"{label} ({rule.build_file}) lists missing srcs {missing_files}"
    unknown = [d for d in rule.deps if d not in RULES_BY_LABEL]
    assert not unknown, f"{label} ({rule.build_file}) depends on unknown rules {unknown}"


@pytest.mark.parametrize("label", sorted(RULES_BY_LABEL))
def test_deps_are_exactly_the_imports(label):
    rule = RULES_BY_LABEL[label]
    provided = {dep: _provided_files(dep) for dep in rule.deps}
    reachable = set().union(*provided.values()) if provided else set()
    own = set(rule.srcs) - reachable  # Shared sources are checked in the dep's rule.
    imported = set().union(*(_imported_files(s) for s in own if s.endswith(".py")
                             and (ROOT / s).is_file())) - own
    missing = {
        f: sorted(OWNERS.get(f, {"<no rule lists it>"})) for f in sorted(imported - reachable)
    }
    used = imported | (set(rule.srcs) & reachable)
    unused = [dep for dep, files in provided.items() if not files & used]
    if rule.kind != "py_library":
        unused = []
    message = [f"{label} in {rule.build_file}:"]
    if missing:
        message.append("  imports without a direct dep (add one of the rules listed):")
        message += [f"    {f}: {owners}" for f, owners in missing.items()]
    if unused:
        message.append(f"  deps it does not import (remove them): {unused}")
    assert not missing and not unused, "\n".join(message)


def test_internal_dependency_graph_is_acyclic():
    state, stack = {}, []

    def visit(label):
        state[label] = "active"
        stack.append(label)
        for dep in RULES_BY_LABEL[label].deps:
            if dep not in RULES_BY_LABEL:
                continue  # Reported by test_sources_exist_and_dep_labels_resolve.
            if state.get(dep) == "active":
                cycle = stack[stack.index(dep):] + [dep]
                pytest.fail("dependency cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[label] = "done"

    for label in sorted(RULES_BY_LABEL):
        if label not in state:
            visit(label)


@pytest.mark.skipif(shutil.which("bazel") is None, reason="bazel is not installed")
def test_bazel_query_loads_every_build_file_and_dep(tmp_path):
    """`bazel query` (Debian's bazel-bootstrap, Bazel 4; offline, ~5 s) sees the same rules.

    Loading `//...` checks every BUILD file as Bazel reads it (Starlark syntax, rule attributes,
    globs); `labels(deps, //...)` resolves every dep label. `deps(//...)` is not queried: it
    would follow `data` labels too, and the shared MNIST file lives outside the workspace.
    """
    assert (ROOT / "WORKSPACE").exists(), "bazel needs a WORKSPACE file at the repository root"
    result = subprocess.run(
        ["bazel", f"--output_user_root={tmp_path / 'bazel'}", "--batch", "query",
         "--noshow_progress", 'kind("py_.* rule", //... + labels(deps, //...))'],
        cwd=ROOT, env=dict(os.environ, HOME=str(tmp_path)), capture_output=True, text=True,
        timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    labels = set(result.stdout.split())
    assert labels == set(RULES_BY_LABEL), (
        f"only bazel sees {sorted(labels - set(RULES_BY_LABEL))}, "
        f"only this test's parser sees {sorted(set(RULES_BY_LABEL) - labels)}")
