"""Abstract values of the interpreter.

A value carries:
  tags    what it is derived from: V (validation tokens), VN (a size or index derived from the
          validation stream), T (training data), ACC (an accumulated score), NLL (a per-token loss
          or log-probability)
  objs    identities of the objects it depends on (a model, an optimizer's parameters, a count table)
  const   its value when it is a known constant (env-var defaults fold into this)
  env     environment variables it depends on
  funcs   function references it may hold (functions passed as values)
  scores  ids of the SCORE events whose accumulated sums flow into it
  terms   index expressions of validation-stream reads it depends on (n-gram keys)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

NOCONST = object()
EMPTY: frozenset = frozenset()

V, VN, T, ACC, NLL = "V", "VN", "T", "ACC", "NLL"


@dataclass(frozen=True)
class FuncRef:
    key: str  # unit::qualname
    node: Any  # libcst FunctionDef or Lambda
    unit: int
    cls: str | None = None  # defining class for methods
    bound: "AbsVal | None" = None  # receiver for bound methods
    closure: Any = None  # defining frame for nested functions

    def __hash__(self) -> int:
        return hash((self.key, id(self.node)))

    def __eq__(self, other) -> bool:
        return isinstance(other, FuncRef) and self.key == other.key and self.node is other.node


@dataclass(frozen=True)
class ClassRef:
    name: str
    unit: int


@dataclass(frozen=True)
class AbsVal:
    tags: frozenset = EMPTY
    objs: frozenset = EMPTY
    const: Any = NOCONST
    env: frozenset = EMPTY
    funcs: frozenset = EMPTY
    scores: frozenset = EMPTY
    terms: frozenset = EMPTY
    items: tuple | None = None  # known tuple/list structure (for unpacking returns)
    cls: ClassRef | None = None  # the class, when the value is a class object
    marker: str | None = None  # special objects: "environ", "optimizer", "nograd"

    @property
    def has_const(self) -> bool:
        return self.const is not NOCONST

    def with_(self, **kw) -> "AbsVal":
        return dataclasses.replace(self, **kw)


UNKNOWN = AbsVal()


def const(value: Any, env: frozenset = EMPTY) -> AbsVal:
    tags = EMPTY
    if isinstance(value, (str, bytes)):
        text = value if isinstance(value, str) else value.decode("latin-1")
        if "fineweb_val" in text:
            tags = frozenset({V})
        elif "fineweb_train" in text:
            tags = frozenset({T})
    return AbsVal(tags=tags, const=value, env=env)


def _union(sets) -> frozenset:
    nonempty = [x for x in sets if x]
    if not nonempty:
        return EMPTY
    if len(nonempty) == 1:
        return nonempty[0]
    return frozenset().union(*nonempty)


def join(*vals: AbsVal, keep_const: bool = False) -> AbsVal:
    vals = [v for v in vals if v is not None]
    if not vals:
        return UNKNOWN
    if len(vals) == 1 and keep_const:
        return vals[0]
    c = NOCONST
    if keep_const:
        consts = {repr(v.const) for v in vals}
        if len(consts) == 1 and vals[0].has_const:
            c = vals[0].const
    # the common case is joining plain values with nothing attached: skip building empty unions
    return AbsVal(
        tags=_union([v.tags for v in vals]),
        objs=_union([v.objs for v in vals]),
        const=c,
        env=_union([v.env for v in vals]),
        funcs=_union([v.funcs for v in vals]),
        scores=_union([v.scores for v in vals]),
        terms=_union([v.terms for v in vals]),
    )


def derive(*vals: AbsVal) -> AbsVal:
    """A value computed from others: their dependencies, no constant, no structure."""
    j = join(*vals)
    return j.with_(funcs=EMPTY)


@dataclass
class ObjInfo:
    oid: int
    kind: str  # "instance" | "tensor" | "table" | "optimizer" | "copy" | "module"
    cls: ClassRef | None = None
    line: int = 0
    unit: int = 0
    attrs: dict = field(default_factory=dict)
