"""`.env.example` lists every environment variable settings.py reads, and nothing else.

The names come from settings.py's syntax tree, not from a list kept by hand: calls such as
`env.str("X", ...)`, `env.int`, `env.db_url`, `env("X")`, `environ.Env().str("X")`, helpers
defined in settings.py that pass one of their parameters to such a call
(`_required_secret("X", ...)`), and f-string names, expanded over the literal tuple their
comprehension or loop runs over (`f"WEBEX_API_BASE_{region.upper()}" for region in (...)`).
A read this cannot resolve fails the test rather than slipping past it.
"""

import ast
import itertools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "byods_portal" / "settings.py"
EXAMPLE = ROOT / ".env.example"
# A line of .env.example that lists a variable: `NAME=value` or commented `# NAME=value`.
LISTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.M)


def _is_env(node: ast.expr) -> bool:
    """`env` or `environ.Env()` (or `Env()`): the objects that read the environment."""
    if isinstance(node, ast.Name):
        return node.id == "env"
    if isinstance(node, ast.Call):
        func = node.func
        return (isinstance(func, ast.Attribute) and func.attr == "Env") or (
            isinstance(func, ast.Name) and func.id == "Env"
        )
    return False


def _env_read(call: ast.Call) -> ast.expr | None:
    """The name argument of a call that reads one variable, or None for any other call."""
    func = call.func
    reads = (isinstance(func, ast.Attribute) and _is_env(func.value)) or _is_env(func)
    if not reads or (isinstance(func, ast.Attribute) and func.attr in ("read_env", "Env")):
        return None
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "var"), None)


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _bindings(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> dict[str, tuple]:
    """Loop variables around `node` that run over a literal tuple or list of constants."""
    found: dict[str, tuple] = {}
    while node in parents:
        node = parents[node]
        generators = (
            node.generators
            if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))
            else [node]
            if isinstance(node, ast.For)
            else []
        )
        for gen in generators:
            if isinstance(gen.target, ast.Name) and isinstance(gen.iter, (ast.Tuple, ast.List)):
                found.setdefault(gen.target.id, tuple(ast.literal_eval(gen.iter)))
    return found


STRING_METHODS = {"upper": str.upper, "lower": str.lower}


def _render(joined: ast.JoinedStr, bindings: dict[str, str]) -> str:
    """The f-string's text with its loop variables bound: `{name}` and `{name.upper()}`."""
    out = []
    for part in joined.values:
        if isinstance(part, ast.Constant):
            out.append(str(part.value))
            continue
        assert isinstance(part, ast.FormattedValue), ast.unparse(joined)
        expr = part.value
        if isinstance(expr, ast.Name):
            out.append(str(bindings[expr.id]))
        elif (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Attribute)
            and isinstance(expr.func.value, ast.Name)
            and expr.func.attr in STRING_METHODS
            and not expr.args
        ):
            out.append(STRING_METHODS[expr.func.attr](str(bindings[expr.func.value.id])))
        else:
            raise AssertionError(
                f"settings.py line {joined.lineno}: cannot resolve {ast.unparse(expr)} in an "
                "environment variable's name"
            )
    return "".join(out)


def _names(arg: ast.expr, parents: dict[ast.AST, ast.AST]) -> set[str]:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return {arg.value}
    if isinstance(arg, ast.JoinedStr):
        free = {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
        loops = _bindings(arg, parents)
        assert free <= set(loops), (
            f"settings.py line {arg.lineno}: f-string name over {sorted(free - set(loops))}, "
            "which no loop over a literal tuple binds"
        )
        names = sorted(free)
        return {
            _render(arg, dict(zip(names, values, strict=True)))
            for values in itertools.product(*(loops[n] for n in names))
        }
    raise AssertionError(
        f"settings.py line {arg.lineno}: an environment read whose name this test cannot "
        f"resolve ({ast.unparse(arg)}); name it with a literal or an f-string over a tuple"
    )


def settings_reads(source: str) -> set[str]:
    """Every environment variable `source` (settings.py) reads."""
    tree = ast.parse(source)
    parents = _parents(tree)
    # Helpers that read the variable named by one of their parameters: name -> its position.
    helpers: dict[str, int] = {}
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        params = [a.arg for a in fn.args.args]
        for call in ast.walk(fn):
            arg = _env_read(call) if isinstance(call, ast.Call) else None
            if isinstance(arg, ast.Name) and arg.id in params:
                helpers[fn.name] = params.index(arg.id)
    found: set[str] = set()
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        arg = _env_read(call)
        if isinstance(call.func, ast.Name) and call.func.id in helpers:
            arg = call.args[helpers[call.func.id]]
        if arg is None:
            continue
        fn = _enclosing_function(call, parents)
        if isinstance(arg, ast.Name) and fn is not None and fn.name in helpers:
            continue  # the helper's own read: its callers name the variables
        found |= _names(arg, parents)
    return found


def _enclosing_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.FunctionDef | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef):
            return node
    return None


def listed(text: str) -> set[str]:
    return set(LISTED.findall(text))


def test_the_reader_finds_every_form_of_read():
    source = """
import environ
env = environ.Env()
VAR = environ.Env().str("A_DIR", default="x")
def _secret(name, dev):
    return env.str(name, default="") or dev
S = _secret("B_SECRET", "dev")
C = env("C_PLAIN")
D = env.db_url("D_URL", default="sqlite://")
E = {r: env.str(f"E_BASE_{r.upper()}", default="") for r in ("us", "eu")}
F = env.email_url("F_MAIL", default="consolemail://")
"""
    assert settings_reads(source) == {
        "A_DIR",
        "B_SECRET",
        "C_PLAIN",
        "D_URL",
        "E_BASE_US",
        "E_BASE_EU",
        "F_MAIL",
    }


def test_a_read_it_cannot_resolve_fails_loudly():
    with pytest.raises(AssertionError, match="cannot resolve"):
        settings_reads("import os\nenv = None\nX = env.str(os.sep)\n")


def test_env_example_lists_exactly_what_settings_reads():
    reads = settings_reads(SETTINGS.read_text())
    documented = listed(EXAMPLE.read_text())
    assert len(reads) > 40  # the parse found the settings, not nothing
    assert not reads - documented, (
        f"read by settings.py, missing from .env.example: {sorted(reads - documented)}"
    )
    assert not documented - reads, f"in .env.example, read by nothing: {sorted(documented - reads)}"
