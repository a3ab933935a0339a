"""Index of the code being analysed: functions, classes, imports and entry points of each unit."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from checks.findings import SourceUnit


@dataclass
class ClassInfo:
    name: str
    unit: int
    node: cst.ClassDef
    methods: dict = field(default_factory=dict)  # name -> FunctionDef
    bases: list = field(default_factory=list)


@dataclass
class UnitIndex:
    index: int
    unit: SourceUnit
    module: cst.Module
    positions: object  # node -> CodeRange
    functions: dict = field(default_factory=dict)  # module-level name -> FunctionDef
    classes: dict = field(default_factory=dict)  # name -> ClassInfo
    aliases: dict = field(default_factory=dict)  # local name -> dotted module path
    lines: list = field(default_factory=list)

    def line_of(self, node) -> int:
        try:
            return self.positions[node].start.line
        except KeyError:
            return 0

    def col_of(self, node) -> int:
        try:
            return self.positions[node].start.column + 1
        except KeyError:
            return 1

    def text(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""


class UnparsableSource(Exception):
    def __init__(self, unit: SourceUnit, reason: str, line: int | None = None, col: int | None = None):
        super().__init__(reason)
        self.unit, self.reason, self.line, self.col = unit, reason, line, col


def dotted(node) -> str:
    """``a.b.c`` for Name/Attribute chains, '' otherwise."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else ""
    return ""


def parse_unit(i: int, unit: SourceUnit) -> UnitIndex:
    try:
        module = cst.parse_module(unit.text)
    except cst.ParserSyntaxError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        reason = lines[1].replace("parser error: ", "") if len(lines) > 1 else (lines[0] if lines else "syntax error")
        line, col = getattr(exc, "editor_line", None), getattr(exc, "editor_column", None)
        try:  # CPython's parser points at the offending token more precisely than libcst's
            import ast

            ast.parse(unit.text)
        except SyntaxError as py_exc:
            if py_exc.lineno:
                line, col = py_exc.lineno, py_exc.offset
        except Exception:
            pass
        raise UnparsableSource(unit, f"syntax error: {reason[:200]}", line, col) from exc
    except Exception as exc:  # libcst raises a few other errors on odd input
        raise UnparsableSource(unit, f"{type(exc).__name__}: {exc}") from exc
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    idx = UnitIndex(i, unit, module, positions, lines=unit.text.splitlines())
    for stmt in module.body:
        _index_stmt(idx, stmt)
    return idx


def _index_stmt(idx: UnitIndex, stmt) -> None:
    if isinstance(stmt, cst.FunctionDef):
        idx.functions[stmt.name.value] = stmt
    elif isinstance(stmt, cst.ClassDef):
        info = ClassInfo(stmt.name.value, idx.index, stmt, bases=[dotted(b.value) for b in stmt.bases])
        for s in stmt.body.body:
            if isinstance(s, cst.FunctionDef):
                info.methods[s.name.value] = s
        idx.classes[stmt.name.value] = info
    elif isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            _index_import(idx, small)
    elif isinstance(stmt, (cst.If, cst.Try)):
        # definitions guarded by `if`/`try` (optional imports, fallbacks) still exist
        for block in _blocks(stmt):
            for s in block:
                _index_stmt(idx, s)


def _blocks(stmt):
    if isinstance(stmt, cst.If):
        yield stmt.body.body
        if stmt.orelse is not None:
            yield from _blocks(stmt.orelse) if isinstance(stmt.orelse, cst.If) else [stmt.orelse.body.body]
    elif isinstance(stmt, cst.Try):
        yield stmt.body.body
        for h in stmt.handlers:
            yield h.body.body


def _index_import(idx: UnitIndex, small) -> None:
    if isinstance(small, cst.Import):
        for name in small.names:
            full = dotted(name.name)
            local = name.asname.name.value if name.asname else full.split(".")[0]
            idx.aliases[local] = full if name.asname else full.split(".")[0]
    elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
        mod = dotted(small.module) if small.module else ""
        for name in small.names:
            local = name.asname.name.value if name.asname else name.name.value
            idx.aliases[local] = f"{mod}.{dotted(name.name)}" if mod else dotted(name.name)
