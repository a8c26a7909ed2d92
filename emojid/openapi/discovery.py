"""What a handler reads and answers, found in its source.

The handlers read their parameters with a few readers (`emojid.http.params`,
`emojid.http.uploads`, and the paging and list readers of `emojid.social`).
This module walks a handler's syntax tree (`ast`) and collects every call of a
reader: the parameter's name, its type (text, integer with its default and
bounds, boolean, object, file), and whether a missing value is refused. It
follows the helpers a handler hands its parameters (or its request) to, a few
calls deep, through closures (route factories such as `image_route("avatar",
"img")` return inner functions: the inner function's free variables give the
values), module globals, loops over constant tuples, and lambdas passed along.

Parameters handed to a service method (`profiles.update_credentials(account,
params)`) cannot be followed by name: such an operation is marked `opaque`,
and its request body says it takes other fields too.

The same walk notes what the handler answers: JSON (and with which status
codes), files and their media types, HTML pages, redirects, 204 and 304.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

import anyio.to_thread
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from emojid.auth import callers
from emojid.http import params as readers
from emojid.http import uploads
from emojid.http.responses import JSON
from emojid.social import paging, statuses
from emojid.social.web import account_common, status_common

# How many helper calls deep the walk follows parameters (handler -> helper -> helper).
MAX_DEPTH = 3

# Where a parameter comes from: the query string only, or `read_params` (query merged with the body).
QUERY = "query"
PARAMS = "params"

# Parameter kinds, from least to most specific (a later reader of the same name refines an earlier one).
KINDS = ("any", "string", "id", "array", "boolean", "integer", "object", "image", "file")

# Callables that only run their first argument with the rest (off the event loop).
RUNNERS: tuple[Callable[..., Any], ...] = (account_common.run, anyio.to_thread.run_sync)


@dataclass(frozen=True)
class Reader:
    """How one reader function takes its arguments."""

    kind: str
    dict_arg: int | None = None          # position of the parameter dict
    name_arg: int | None = None          # position of the parameter's name
    value_arg: int | None = None         # position of the value read (readers given the value, not the dict)
    names: tuple[str, ...] = ()          # names the reader always reads (Page.parse)
    names_from: int | None = None        # names given from this position on (collect_lists)
    required: bool = False


def _base(obj: object) -> object:
    """A bound method's function (classmethods such as Page.parse)."""
    return obj.__func__ if isinstance(obj, MethodType) else obj


READERS: dict[object, Reader] = {
    readers.text_param: Reader("string", dict_arg=0, name_arg=1),
    readers.required: Reader("string", dict_arg=0, name_arg=1, required=True),
    readers.int_param: Reader("integer", dict_arg=0, name_arg=1),
    readers.bool_param: Reader("boolean", dict_arg=0, name_arg=1),
    readers.bool_value: Reader("boolean", value_arg=0, name_arg=1),
    readers.json_object: Reader("object", value_arg=0, name_arg=1),
    readers.json_data: Reader("any", value_arg=0, name_arg=1),
    uploads.image_param: Reader("image", dict_arg=1, name_arg=2),
    statuses.list_param: Reader("array", dict_arg=0, name_arg=1),
    status_common.collect_lists: Reader("array", dict_arg=1, names_from=2),
    paging.id_param: Reader("id", value_arg=0, name_arg=1),
    _base(paging.Page.parse): Reader("paging", dict_arg=0, names=("max_id", "since_id", "min_id", "limit", "offset")),
}
PAGING_KINDS = {"max_id": "id", "since_id": "id", "min_id": "id", "limit": "integer", "offset": "integer"}
# Reading the parameter dict from the request.
DICT_SOURCES: dict[object, str] = {readers.read_params: PARAMS}
# Spooling a value marks it as a file upload.
FILE_MARKERS: tuple[Callable[..., Any], ...] = (uploads.spooled,)
# What tells who may call: `require(request, scope)` and friends.
AUTH_REQUIRED: tuple[Callable[..., Any], ...] = (callers.require, account_common.require_any)
AUTH_OPTIONAL: tuple[Callable[..., Any], ...] = (account_common.optional_account,)


@dataclass
class Param:
    name: str
    source: str                   # QUERY or PARAMS
    kind: str = "any"
    required: bool = False
    default: object = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    enum: tuple[str, ...] | None = None

    def merge(self, other: Param) -> None:
        if KINDS.index(other.kind) > KINDS.index(self.kind):
            self.kind = other.kind
        self.required = self.required or other.required
        for attr in ("default", "minimum", "maximum", "max_length", "enum"):
            if getattr(self, attr) is None:
                setattr(self, attr, getattr(other, attr))


@dataclass(frozen=True)
class Answer:
    """One kind of answer: a status code (None: the default, 200) and a media type (None: no body)."""

    status: int | None
    media_type: str | None


@dataclass
class Discovery:
    params: dict[tuple[str, str], Param] = field(default_factory=dict)
    answers: set[Answer] = field(default_factory=set)
    opaque: set[str] = field(default_factory=set)    # services handed the parameters
    scopes: list[str] = field(default_factory=list)
    auth: str = "none"                               # "none", "optional" or "required"

    def add(self, param: Param) -> None:
        key = (param.name, param.source)
        if key in self.params:
            self.params[key].merge(param)
        else:
            self.params[key] = param


@dataclass
class Scope:
    """What the walk knows about the names of one function."""

    fn: Callable[..., Any] | None
    globals: dict[str, Any]
    dicts: dict[str, str] = field(default_factory=dict)          # name -> QUERY / PARAMS: a parameter dict
    consts: dict[str, tuple[object, ...]] = field(default_factory=dict)  # name -> the constants it may hold
    values: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (parameter, source) of its value
    lambdas: dict[str, tuple[ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef, Scope]] = field(default_factory=dict)
    objects: dict[str, object] = field(default_factory=dict)      # name -> an object passed in (a function)
    types: dict[str, type] = field(default_factory=dict)          # name -> the class of what it holds
    depth: int = 0

    def inner(self, fn: Callable[..., Any] | None = None, globals_: dict[str, Any] | None = None) -> Scope:
        """A scope for a function called from this one: the same names when it is a lambda defined here."""
        if fn is None:
            return Scope(self.fn, self.globals, dict(self.dicts), dict(self.consts), dict(self.values),
                         dict(self.lambdas), dict(self.objects), dict(self.types), self.depth + 1)
        return Scope(fn, globals_ if globals_ is not None else {}, depth=self.depth + 1)

    def resolve(self, name: str) -> object:
        """The object a free name stands for: a passed-in object, a closure cell, a global, a builtin."""
        if name in self.objects:
            return self.objects[name]
        if self.fn is not None and isinstance(self.fn, FunctionType) and self.fn.__closure__:
            for var, cell in zip(self.fn.__code__.co_freevars, self.fn.__closure__, strict=True):
                if var == name:
                    try:
                        return cell.cell_contents
                    except ValueError:
                        return _MISSING
        if name in self.globals:
            return self.globals[name]
        return getattr(builtins, name, _MISSING)


_MISSING = object()


# -- finding a function's syntax tree -------------------------------------------------------------


@cache
def _module_tree(module_name: str) -> ast.Module:
    return ast.parse(inspect.getsource(sys.modules[module_name]))


FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@cache
def _functions(module_name: str) -> dict[tuple[str, int], list[FunctionNode]]:
    """(name, first line) -> the function nodes of a module (lambdas as "<lambda>")."""
    found: dict[tuple[str, int], list[FunctionNode]] = {}
    try:
        tree = _module_tree(module_name)
    except (OSError, TypeError, SyntaxError, KeyError):
        return found
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for line in {node.lineno, min([node.lineno, *(d.lineno for d in node.decorator_list)])}:
                found.setdefault((node.name, line), []).append(node)
        elif isinstance(node, ast.Lambda):
            found.setdefault(("<lambda>", node.lineno), []).append(node)
    return found


def function_node(fn: Callable[..., Any]) -> FunctionNode | None:
    """The syntax tree of `fn`, found in its module's by name and first line (closures and lambdas too)."""
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    module = getattr(fn, "__module__", None)
    if code is None or module not in sys.modules:
        return None
    for node in _functions(module).get((code.co_name, code.co_firstlineno), []):
        if not isinstance(node, ast.Lambda) or [a.arg for a in node.args.args] == \
                list(code.co_varnames[:code.co_argcount]):
            return node
    return None


def _arg_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    return [a.arg for a in (*node.args.posonlyargs, *node.args.args)]


# Not walked into: the readers' own module and the credentials check (its CSRF field belongs to cookie sessions).
NOT_FOLLOWED = ("emojid.http.", "emojid.auth.callers")


def _is_emojid_function(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return isinstance(obj, FunctionType) and module.startswith("emojid.") and not module.startswith(NOT_FOLLOWED)


# -- types: which class a call returns, which class an attribute holds ---------------------------------


@cache
def _imported_names(module_name: str) -> dict[str, str]:
    """name -> "module.attr" for every `from module import attr` in a module (TYPE_CHECKING ones too)."""
    names: dict[str, str] = {}
    try:
        tree = _module_tree(module_name)
    except (OSError, TypeError, SyntaxError, KeyError):
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _hint(annotation: object, module_name: str, globals_: dict[str, Any]) -> type | None:
    """The class an annotation names (`X`, `X | None`, a string of either), if it is one."""
    if isinstance(annotation, type):
        return annotation
    if not isinstance(annotation, str):
        return None
    parts = [p.strip() for p in annotation.split("|") if p.strip() != "None"]
    if len(parts) != 1 or not parts[0].isidentifier():
        return None
    name = parts[0]
    value = globals_.get(name)
    if value is None:
        qualified = _imported_names(module_name).get(name)
        module, _, attr = (qualified or "").rpartition(".")
        if module.startswith("emojid."):  # imported for annotations only (TYPE_CHECKING): import it here
            try:
                value = getattr(importlib.import_module(module), attr, None)
            except ImportError:
                value = None
    return value if isinstance(value, type) else None


def _return_type(fn: object) -> type | None:
    return _function_return_type(fn) if isinstance(fn, FunctionType) else None


@cache
def _function_return_type(fn: FunctionType) -> type | None:
    return _hint(fn.__annotations__.get("return"), fn.__module__, fn.__globals__)


def _response_class(fn: object) -> type[Response] | None:
    """The Response class a function says it returns, if any."""
    hint = _return_type(fn)
    return hint if hint is not None and issubclass(hint, Response) else None


@cache
def _attribute_type(cls: type, attr: str) -> type | None:
    """The class of `obj.attr` for an instance of `cls`: its annotation, or what `__init__` assigns."""
    for klass in cls.__mro__:
        module = sys.modules.get(klass.__module__)
        globals_ = vars(module) if module else {}
        annotation = klass.__dict__.get("__annotations__", {}).get(attr)
        if annotation is not None:
            return _hint(annotation, klass.__module__, globals_)
        member = klass.__dict__.get(attr)
        if isinstance(member, property):
            return _return_type(member.fget)
        init = klass.__dict__.get("__init__")
        node = function_node(init) if isinstance(init, FunctionType) else None
        if node is None:
            continue
        for child in ast.walk(node):
            if isinstance(child, ast.Assign) and len(child.targets) == 1 and isinstance(child.value, ast.Call):
                target = child.targets[0]
                if isinstance(target, ast.Attribute) and target.attr == attr and _root_name(target) == "self":
                    made = child.value.func
                    if isinstance(made, ast.Name) and isinstance(globals_.get(made.id), type):
                        found: type = globals_[made.id]
                        return found
    return None


# -- the walk ---------------------------------------------------------------------------------------

Callee = tuple[ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, Scope, bool]  # node, scope, bound method


class Walker:
    """Walks one handler (and what it calls) and fills in a Discovery."""

    def __init__(self, found: Discovery) -> None:
        self.found = found
        self.seen: set[tuple[int, str]] = set()
        self.walked: set[int] = set()   # nested functions walked where they are called

    def walk_function(self, fn: Callable[..., Any]) -> None:
        fn = inspect.unwrap(fn)
        node = function_node(fn)
        if node is not None:
            self.walk_node(node, Scope(fn, getattr(fn, "__globals__", {})), conditional=False)

    def walk_node(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, scope: Scope, conditional: bool) -> None:
        key = (id(node), repr((sorted(scope.dicts.items()), sorted(scope.consts.items()), conditional)))
        if key in self.seen:
            return
        self.seen.add(key)
        for arg in _arg_names(node):
            if arg == "params" and arg not in scope.dicts:
                scope.dicts[arg] = PARAMS
        self.walked.add(id(node))
        self._prepass(node, scope)
        body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
        nested = [s for s in body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        self.visit_block(body, scope, conditional)
        for inner in nested:  # a nested function handed to something not walked: read where it stands
            if id(inner) not in self.walked:
                self.walk_node(inner, scope.inner(), conditional)

    def _prepass(self, node: ast.AST, scope: Scope) -> None:
        """Names that hold parameter dicts, known before the main pass (a dict may be used before a reader names it)."""
        for child in ast.walk(node):
            if isinstance(child, ast.Call):
                reader = self._reader(child.func, scope)
                if reader is not None and reader.dict_arg is not None and len(child.args) > reader.dict_arg:
                    target = child.args[reader.dict_arg]
                    if isinstance(target, ast.Name) and target.id not in scope.dicts:
                        scope.dicts[target.id] = PARAMS
            elif isinstance(child, ast.Assign) and len(child.targets) == 1 and isinstance(child.targets[0], ast.Name):
                source = self._makes_dict(child.value, scope)
                if source is not None:
                    scope.dicts[child.targets[0].id] = source

    def _makes_dict(self, expr: ast.expr, scope: Scope) -> str | None:
        """QUERY or PARAMS when `expr` is a parameter dict (read_params(...), dict(request.query_params), ...)."""
        if isinstance(expr, ast.Await):
            return self._makes_dict(expr.value, scope)
        if isinstance(expr, ast.Name):
            return scope.dicts.get(expr.id)
        if isinstance(expr, ast.Attribute):
            return QUERY if expr.attr == "query_params" else None
        if not isinstance(expr, ast.Call):
            return None
        target = _base(self._resolve(expr.func, scope))
        if target in DICT_SOURCES:
            return DICT_SOURCES[target]
        if target is dict and len(expr.args) == 1:
            return self._makes_dict(expr.args[0], scope)
        reader = self._reader(expr.func, scope)
        if reader is not None and reader.dict_arg is not None and reader.kind == "array" and len(expr.args) > reader.dict_arg:
            return self._makes_dict(expr.args[reader.dict_arg], scope)  # collect_lists(request, params, ...)
        if target is readers.json_data and expr.args:
            return self._makes_dict(expr.args[0], scope)
        if _is_emojid_function(target) and _reads_params(target):
            return PARAMS  # a helper that returns the parameters, rearranged (authorization_params)
        if _is_emojid_function(target) and any(self._makes_dict(a, scope) for a in expr.args) \
                and _return_type(target) is dict:
            return next(s for s in (self._makes_dict(a, scope) for a in expr.args) if s)
        return None

    def _resolve(self, expr: ast.expr, scope: Scope) -> object:
        """The object an expression names: a function, a class, a module, a method of a known class."""
        if isinstance(expr, ast.Name):
            return scope.resolve(expr.id)
        if isinstance(expr, ast.Attribute):
            owner = self._resolve(expr.value, scope)
            if isinstance(owner, (ModuleType, type)):
                return getattr(owner, expr.attr, _MISSING)
            cls = self._type_of(expr.value, scope)
            if cls is not None:
                return getattr(cls, expr.attr, _MISSING)
        return _MISSING

    def _type_of(self, expr: ast.expr, scope: Scope) -> type | None:
        """The class of what an expression holds, as far as annotations tell."""
        if isinstance(expr, ast.Await):
            return self._type_of(expr.value, scope)
        if isinstance(expr, ast.Name):
            if expr.id in scope.types:
                return scope.types[expr.id]
            return None
        if isinstance(expr, ast.Attribute):
            owner = self._type_of(expr.value, scope)
            return _attribute_type(owner, expr.attr) if owner is not None else None
        if isinstance(expr, ast.Call):
            target = self._resolve(expr.func, scope)
            if isinstance(target, type):
                return target
            return _return_type(target)
        return None

    def _reader(self, func: ast.expr, scope: Scope) -> Reader | None:
        target = _base(self._resolve(func, scope))
        try:
            return READERS.get(target)
        except TypeError:  # unhashable
            return None

    def consts(self, expr: ast.expr | None, scope: Scope) -> tuple[object, ...]:
        """The constant values an expression may have (several for a loop variable or a conditional)."""
        if expr is None:
            return ()
        if isinstance(expr, ast.Constant):
            return (expr.value,)
        if isinstance(expr, ast.Name):
            if expr.id in scope.consts:
                return scope.consts[expr.id]
            value = scope.resolve(expr.id)
            return (value,) if isinstance(value, (str, int, float, bool)) else ()
        if isinstance(expr, ast.Attribute):
            value = self._resolve(expr, scope)
            return (value,) if isinstance(value, (str, int, float, bool)) else ()
        if isinstance(expr, ast.IfExp):
            return self.consts(expr.body, scope) + self.consts(expr.orelse, scope)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            return tuple(-v for v in self.consts(expr.operand, scope) if isinstance(v, (int, float)))
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.LShift):
            left, right = self.consts(expr.left, scope), self.consts(expr.right, scope)
            if len(left) == 1 and len(right) == 1 and isinstance(left[0], int) and isinstance(right[0], int):
                return (left[0] << right[0],)
        if isinstance(expr, ast.Subscript):
            container = self._resolve(expr.value, scope)
            if isinstance(container, dict):  # any of its values (TYPES[ext])
                return tuple(v for v in container.values() if isinstance(v, (str, int)))
        return ()

    def _names(self, expr: ast.expr | None, scope: Scope) -> list[str]:
        return [v for v in self.consts(expr, scope) if isinstance(v, str)]

    def _collection(self, expr: ast.expr, scope: Scope) -> list[object] | None:
        """The items of a constant collection (a tuple literal, a global tuple, set or dict, dict.items())."""
        if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
            items = [self.consts(e, scope) for e in expr.elts]
            return [i[0] for i in items] if all(len(i) == 1 for i in items) else None
        method = None
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and not expr.args:
            method, expr = expr.func.attr, expr.func.value
        value = self._resolve(expr, scope)
        if isinstance(value, dict):
            if method == "items":
                return list(value.items())
            return list(value.values()) if method == "values" else list(value)
        if isinstance(value, (tuple, list, frozenset, set)) and method is None:
            return sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        return None

    # -- statements and expressions

    def visit_block(self, body: list[ast.AST] | list[ast.stmt], scope: Scope, conditional: bool) -> None:
        """Statements in order; after an `if` that may return, the rest runs only sometimes."""
        for stmt in body:
            self.visit(stmt, scope, conditional)
            if isinstance(stmt, ast.If) and any(isinstance(s, ast.Return) for s in (*stmt.body, *stmt.orelse)):
                conditional = True

    def visit(self, node: ast.AST, scope: Scope, conditional: bool) -> None:
        if isinstance(node, ast.If):
            self.visit(node.test, scope, conditional)
            if _raises(node.body):
                if not conditional:
                    for name in self._absent(node.test, scope):
                        self._mark_required(name)
                self._enum(node.test, scope)
            self.visit_block(node.body, scope, True)
            self.visit_block(node.orelse, scope, True)
            return
        if isinstance(node, (ast.For, ast.AsyncFor)):
            self.visit(node.iter, scope, conditional)
            items = self._collection(node.iter, scope)
            if items is not None:
                self._bind_loop(node.target, items, scope)
            self.visit_block([*node.body, *node.orelse], scope, conditional if items else True)
            return
        if isinstance(node, (ast.While, ast.IfExp, ast.comprehension)):
            for child in ast.iter_child_nodes(node):
                self.visit(child, scope, True)
            return
        if isinstance(node, ast.Try):
            self.visit_block(node.body, scope, conditional)
            for handler in node.handlers:
                self.visit_block(handler.body, scope, True)
            self.visit_block(node.orelse, scope, True)
            self.visit_block(node.finalbody, scope, conditional)
            return
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.visit(item, scope, conditional)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, item.context_expr, scope)
            self.visit_block(node.body, scope, conditional)
            return
        if isinstance(node, ast.BoolOp):
            self.visit(node.values[0], scope, conditional)
            for value in node.values[1:]:
                self.visit(value, scope, True)
            return
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            if node.value is not None:
                self.visit(node.value, scope, conditional)
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    self._bind(target, node.value, scope)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope.lambdas[node.name] = (node, scope)  # walked where it is called (or after the body)
            return
        skip: set[int] = set()
        if isinstance(node, ast.Call):
            skip = self.call(node, scope, conditional)
        elif isinstance(node, ast.Compare):
            self._membership(node, scope)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in scope.dicts:
            for name in self._names(node.slice, scope):
                self._add(name, scope.dicts[node.value.id], "any")
        for child in ast.iter_child_nodes(node):
            if id(child) not in skip:
                self.visit(child, scope, conditional)

    def _bind(self, target: ast.expr, value: ast.expr, scope: Scope) -> None:
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
            for t, v in zip(target.elts, value.elts, strict=True):
                self._bind(t, v, scope)
            return
        if not isinstance(target, ast.Name):
            return
        held = self._value_param(value, scope)
        if held is not None:
            scope.values[target.id] = held
        consts = self.consts(value, scope)
        if consts:
            scope.consts[target.id] = consts
        cls = self._type_of(value, scope)
        if cls is not None:
            scope.types[target.id] = cls

    def _value_param(self, expr: ast.expr, scope: Scope) -> tuple[str, str] | None:
        """(parameter, source) whose value `expr` is: `reader(params, "x")`, `params.get("x")`, `params["x"]`."""
        if isinstance(expr, ast.Await):
            expr = expr.value
        if isinstance(expr, ast.BoolOp) and all(isinstance(v, ast.Constant) for v in expr.values[1:]):
            return self._value_param(expr.values[0], scope)  # `text_param(params, "x") or ""`
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "strip":
            return self._value_param(expr.func.value, scope)
        if isinstance(expr, ast.Name):
            return scope.values.get(expr.id)
        names: list[str] = []
        dict_expr: ast.expr | None = None
        if isinstance(expr, ast.Call):
            reader = self._reader(expr.func, scope)
            if reader is not None and reader.name_arg is not None and len(expr.args) > reader.name_arg:
                names = self._names(expr.args[reader.name_arg], scope)
                if reader.dict_arg is not None and len(expr.args) > reader.dict_arg:
                    dict_expr = expr.args[reader.dict_arg]
            elif isinstance(expr.func, ast.Attribute) and expr.func.attr == "get" and expr.args and \
                    self._is_dict(expr.func.value, scope):
                names, dict_expr = self._names(expr.args[0], scope), expr.func.value
        elif isinstance(expr, ast.Subscript) and self._is_dict(expr.value, scope):
            names, dict_expr = self._names(expr.slice, scope), expr.value
        if len(names) != 1:
            return None
        return names[0], self._source(dict_expr, scope) if dict_expr is not None else PARAMS

    def _is_dict(self, expr: ast.expr, scope: Scope) -> bool:
        if isinstance(expr, ast.Name):
            return expr.id in scope.dicts
        return isinstance(expr, ast.Attribute) and expr.attr == "query_params"

    def _source(self, expr: ast.expr, scope: Scope) -> str:
        """Where the dict (or the value) an expression reads comes from."""
        for child in ast.walk(expr):
            if isinstance(child, ast.Attribute) and child.attr == "query_params":
                return QUERY
            if isinstance(child, ast.Name) and child.id in scope.dicts:
                return scope.dicts[child.id]
        return PARAMS

    def _bind_loop(self, target: ast.expr, items: list[object], scope: Scope) -> None:
        if isinstance(target, ast.Name):
            scope.consts[target.id] = tuple(i for i in items if isinstance(i, (str, int, float, bool)))
        elif isinstance(target, ast.Tuple):
            for index, elt in enumerate(target.elts):
                if isinstance(elt, ast.Name):
                    scope.consts[elt.id] = tuple(i[index] for i in items if isinstance(i, tuple) and len(i) > index
                                                 and isinstance(i[index], (str, int, float, bool)))

    def _membership(self, node: ast.Compare, scope: Scope) -> None:
        """`"x" in params`: the handler looks at x."""
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)) and self._is_dict(right, scope):
                for name in self._names(node.left, scope):
                    self._add(name, self._source(right, scope), "any")

    def _absent(self, test: ast.expr, scope: Scope) -> list[str]:
        """The parameters whose absence makes `test` true (each disjunct of an `or`)."""
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            return [name for value in test.values for name in self._absent(value, scope)]
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            root = _root_name(test.operand)
            return [scope.values[root][0]] if root in scope.values else []
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, right = test.ops[0], test.comparators[0]
            if isinstance(op, ast.NotIn) and self._is_dict(right, scope):
                return self._names(test.left, scope)
            absent_value = isinstance(right, ast.Constant) and (right.value is None or right.value == "")
            if isinstance(op, (ast.Is, ast.Eq)) and absent_value:
                left = test.left
                if isinstance(left, ast.Name) and left.id in scope.values:
                    return [scope.values[left.id][0]]
                if isinstance(left, ast.Call) and isinstance(left.func, ast.Attribute) and left.func.attr == "get" \
                        and left.args and self._is_dict(left.func.value, scope):
                    return self._names(left.args[0], scope)
        return []

    def _enum(self, test: ast.expr, scope: Scope) -> None:
        """`if value not in CHOICES: raise ...`: the parameter takes one of CHOICES."""
        tests = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or) else [test]
        for item in tests:
            if isinstance(item, ast.Compare) and len(item.ops) == 1 and isinstance(item.ops[0], ast.NotIn) \
                    and isinstance(item.left, ast.Name) and item.left.id in scope.values:
                choices = self._collection(item.comparators[0], scope)
                if choices and all(isinstance(c, str) for c in choices):
                    for (name, _source), param in self.found.params.items():
                        if name == scope.values[item.left.id][0] and param.enum is None:
                            param.enum = tuple(str(c) for c in choices)

    def _mark_required(self, name: str) -> None:
        for (param, _source), found in self.found.params.items():
            if param == name:
                found.required = True
                return
        self._add(name, PARAMS, "any", required=True)

    def _add(self, name: str, source: str, kind: str, **extra: Any) -> None:
        if not name or "[" in name.removesuffix("[]"):
            return  # `authorization[scope][]`-style nested form keys: the object parameter covers them
        if name.endswith("[]"):
            name, kind = name[:-2], "array"
        self.found.add(Param(name, source, kind, **extra))

    # -- calls

    def call(self, node: ast.Call, scope: Scope, conditional: bool) -> set[int]:
        """Note what a call reads or answers; walk the helper it calls. The ids of the arguments walked there."""
        reader = self._reader(node.func, scope)
        if reader is not None:
            self._read(node, reader, scope, conditional)
            return set()
        target = _base(self._resolve(node.func, scope))
        if target in FILE_MARKERS and len(node.args) > 1:
            value = node.args[1]
            if isinstance(value, ast.Name) and value.id in scope.values:
                self._add(*scope.values[value.id], "file")
        if target in AUTH_REQUIRED or target in AUTH_OPTIONAL:
            self._auth(node, target in AUTH_REQUIRED, scope)
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "getlist") and node.args:
            if self._is_dict(node.func.value, scope):
                kind = "array" if node.func.attr == "getlist" else "any"
                for name in self._names(node.args[0], scope):
                    self._add(name, self._source(node.func.value, scope), kind)
            elif node.func.attr == "getlist" and _root_name(node.func) == "form":
                for name in self._names(node.args[0], scope):
                    self._add(name, PARAMS, "array")
        if isinstance(target, type) and issubclass(target, Response):
            self._answer(node, target, scope)
        else:
            page = _response_class(target)
            if page is not None and page not in (Response, JSON):
                self._answer(node, page, scope)
        if target in RUNNERS and node.args:
            inner = ast.Call(func=node.args[0], args=node.args[1:], keywords=node.keywords)
            return self._follow(ast.copy_location(inner, node), _base(self._resolve(node.args[0], scope)), scope,
                                conditional)
        return self._follow(node, target, scope, conditional)

    def _read(self, node: ast.Call, reader: Reader, scope: Scope, conditional: bool) -> None:
        args = node.args
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        if reader.dict_arg is not None and len(args) > reader.dict_arg:
            source = self._source(args[reader.dict_arg], scope)
        elif reader.value_arg is not None and len(args) > reader.value_arg:
            source = self._source(args[reader.value_arg], scope)
        else:
            source = PARAMS
        if reader.kind == "paging":
            for name in reader.names:
                self._add(name, source, PAGING_KINDS[name])
            return
        if reader.names_from is not None:
            for arg in args[reader.names_from:]:
                for name in self._names(arg, scope):
                    self._add(name, source, reader.kind)
            return
        name_expr = args[reader.name_arg] if reader.name_arg is not None and len(args) > reader.name_arg else kw.get("name")
        names = self._names(name_expr, scope)
        if reader.value_arg is not None and len(args) > reader.value_arg:
            held = self._value_param(args[reader.value_arg], scope)
            if held is not None:
                names, source = [held[0]] if not names else names, held[1]
        extra: dict[str, Any] = {"required": reader.required and not conditional}
        if target_is(reader, readers.int_param):
            minimum = _arg(args, kw, 3, "minimum")
            extra.update(default=_first(self.consts(_arg(args, kw, 2, "default"), scope)),
                         minimum=_first(self.consts(minimum, scope)) if minimum is not None else 0,
                         maximum=_first(self.consts(_arg(args, kw, 4, "maximum"), scope)))
        elif target_is(reader, readers.bool_param):
            default = _arg(args, kw, 2, "default")
            extra["default"] = _first(self.consts(default, scope)) if default is not None else False
        elif target_is(reader, readers.text_param):
            extra["max_length"] = _first(self.consts(_arg(args, kw, 2, "max_length"), scope))
        for name in names:
            self._add(name, source, reader.kind, **extra)

    def _auth(self, node: ast.Call, required: bool, scope: Scope) -> None:
        scopes: list[str] = []
        for arg in node.args[1:]:
            if isinstance(arg, ast.Starred):
                scopes += [s for s in self._collection(arg.value, scope) or [] if isinstance(s, str)]
            else:
                scopes += self._names(arg, scope)
        if required or self.found.auth == "none":
            self.found.auth = "required" if required else "optional"
        self.found.scopes += [s for s in scopes if s not in self.found.scopes]

    def _answer(self, node: ast.Call, cls: type[Response], scope: Scope) -> None:
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        status_expr = kw.get("status_code", kw.get("status"))
        codes: list[int | None] = [s for s in self.consts(status_expr, scope) if isinstance(s, int)]
        if not codes:  # none given: the class's default; one not known here (`exc.status`): None, any
            codes = [None] if status_expr is not None else [307 if issubclass(cls, RedirectResponse) else 200]
        media: list[str | None]
        if issubclass(cls, RedirectResponse):
            media = [None]
        elif "media_type" in kw:
            media = list(self._names(kw["media_type"], scope)) or ["*/*"]
        elif issubclass(cls, (FileResponse, StreamingResponse)):
            media = ["*/*"]
        elif cls.media_type:
            media = [cls.media_type]
        else:
            media = [None] if not node.args else ["*/*"]
        for code in codes:
            for media_type in media:
                kind = None if code in (204, 304) or media_type is None else media_type.split(";")[0].strip()
                self.found.answers.add(Answer(code, kind))
                if issubclass(cls, FileResponse) and code == 200 and kind is not None:
                    self.found.answers.add(Answer(206, kind))  # a Range request

    def _callee(self, node: ast.Call, target: object, scope: Scope) -> Callee | None:
        if isinstance(node.func, ast.Name) and node.func.id in scope.lambdas:
            lambda_node, outer = scope.lambdas[node.func.id]
            inner = outer.inner()
            inner.depth = scope.depth  # the same function, lexically
            return lambda_node, inner, False
        if isinstance(node.func, ast.Name) and node.func.id in scope.objects:
            target = scope.objects[node.func.id]
        if not _is_emojid_function(target):
            return None
        assert isinstance(target, FunctionType)
        found = function_node(target)
        if found is None:
            return None
        bound = isinstance(node.func, ast.Attribute) and not isinstance(self._resolve(node.func.value, scope),
                                                                        (ModuleType, type))
        inner = scope.inner(target, target.__globals__)
        if bound:
            assert isinstance(node.func, ast.Attribute)
            owner = self._type_of(node.func.value, scope)
            names = _arg_names(found)
            if owner is not None and names:
                inner.types[names[0]] = owner
        return found, inner, bound

    def _follow(self, node: ast.Call, target: object, scope: Scope, conditional: bool) -> set[int]:
        """Walk a helper the call hands parameters, the request or a function to (a few calls deep)."""
        arguments = [*node.args, *(k.value for k in node.keywords)]
        roles = [self._role(a, scope) for a in arguments]
        if not any(roles) and _response_class(target) is None and not (
                isinstance(node.func, ast.Name) and node.func.id in scope.lambdas):
            return set()
        callee = self._callee(node, target, scope) if scope.depth < MAX_DEPTH else None
        if callee is None:
            if "dict" in roles and not isinstance(target, (type, BuiltinFunctionType)):
                self.found.opaque.add(ast.unparse(node.func))
            return set()
        callee_node, inner, bound = callee
        names = _arg_names(callee_node)[1 if bound else 0:]
        pairs = [*zip(names, node.args, strict=False), *((k.arg, k.value) for k in node.keywords if k.arg in names)]
        for name, value in pairs:
            self._pass(name, value, scope, inner)
        self.walk_node(callee_node, inner, conditional)
        return {id(a) for a in arguments if isinstance(a, ast.Lambda)}

    def _role(self, expr: ast.expr, scope: Scope) -> str | None:
        """Why an argument matters to the walk: "dict" (parameters), "request", "function", or None."""
        if self._makes_dict(expr, scope) is not None:
            return "dict"
        if isinstance(expr, ast.Name) and expr.id == "request":
            return "request"
        if isinstance(expr, ast.Lambda) or (isinstance(expr, ast.Name) and expr.id in scope.lambdas):
            return "function"
        return None

    def _pass(self, name: str, value: ast.expr, caller: Scope, callee: Scope) -> None:
        """What the callee's parameter `name` is, given the caller's argument `value`."""
        source = self._makes_dict(value, caller)
        if source is not None:
            callee.dicts[name] = source
            return
        callee.dicts.pop(name, None)
        if isinstance(value, ast.Lambda):
            callee.lambdas[name] = (value, caller)
            return
        if isinstance(value, ast.Name) and value.id in caller.lambdas:
            callee.lambdas[name] = caller.lambdas[value.id]
            return
        resolved = caller.resolve(value.id) if isinstance(value, ast.Name) else _MISSING
        if _is_emojid_function(resolved):
            callee.objects[name] = resolved
            return
        consts = self.consts(value, caller)
        if consts:
            callee.consts[name] = consts
        if isinstance(value, ast.Name) and value.id in caller.values:
            callee.values[name] = caller.values[value.id]
        cls = self._type_of(value, caller)
        if cls is not None:
            callee.types[name] = cls


def target_is(reader: Reader, fn: Callable[..., Any]) -> bool:
    return READERS.get(fn) is reader


def _reads_params(fn: object) -> bool:
    """Whether a function reads the request's parameters itself (and hands them back, rearranged)."""
    return isinstance(fn, FunctionType) and _calls_read_params(fn)


@cache
def _calls_read_params(fn: FunctionType) -> bool:
    node = function_node(fn)
    return node is not None and any(isinstance(c, ast.Name) and c.id == "read_params" for c in ast.walk(node))


def _raises(body: list[ast.stmt]) -> bool:
    return any(isinstance(stmt, ast.Raise) for stmt in body)


def _root_name(expr: ast.expr) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Call, ast.Subscript)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _arg(args: list[ast.expr], kw: dict[str, ast.expr], position: int, name: str) -> ast.expr | None:
    return args[position] if len(args) > position else kw.get(name)


def _first(values: Iterable[object]) -> Any:
    for value in values:
        return value
    return None


def discover(endpoint: Callable[..., Any]) -> Discovery:
    """What `endpoint` reads and answers."""
    found = Discovery()
    walker = Walker(found)
    walker.walk_function(endpoint)
    if not found.answers:
        found.answers.add(Answer(200, "application/json"))
    return found


def iter_params(found: Discovery) -> Iterator[Param]:
    yield from sorted(found.params.values(), key=lambda p: (not p.required, p.name))


__all__ = ["Answer", "Discovery", "Param", "discover", "function_node", "iter_params"]
