"""The Python package mirrors core/src/cobo_oauth.udl one-for-one: this test parses the
UDL and fails if a function, constructor, method, record field, enum variant or error
variant is missing (or extra) in the installed package.

Naming rules (UDL → Python):
- functions, methods, arguments and fields keep their snake_case names;
- `constructor(...)` is the class call, `[Name=x] constructor(...)` the classmethod `x`;
- enum variants are upper snake case (`"Prod"` → `Environment.PROD`, `"CoboAuth"` →
  `Refusal.COBO_AUTH`), as in Kotlin;
- error variant `V` is the exception class `VError`, except `Timeout` →
  `RequestTimeoutError` (so as not to shadow the builtin TimeoutError); its fields are
  keyword arguments and attributes;
- `Secret` is `str`; `bytes` is `bytes` (or bytearray); `timestamp` an aware `datetime`;
  `boolean` is `bool`;
  `T?` is `T | None`, and an `optional T? x = null` argument defaults to None;
- `[Trait, WithForeign] interface TokenStore` is the class of the built-in stores; any
  Python object with the same methods is accepted too, typed by `TokenStoreProtocol`;
- `[Trait, WithForeign] interface CoordinatedTokenStore` has no class: Python stores
  implement `CoordinatedTokenStoreProtocol` and go through `coordinated_token_store`;
- the log sink (`LogSink`, `LogRecord`, `LogLevel`, `set_log_sink`) is not mirrored:
  Python gets the same records through the standard `logging` module.
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

import cobo_oauth
from conftest import REPO, VARIANT_CLASSES


@dataclass
class Member:
    name: str
    args: list[str]
    attrs: str = ""
    default: str | None = None
    returns: str | None = None
    # Argument name -> its UDL default (e.g. "null"), for `optional T x = default` args.
    arg_defaults: dict[str, str] = field(default_factory=dict)
    arg_types: dict[str, str] = field(default_factory=dict)


ARG = re.compile(r"^(?:optional\s+)?([\w?]+(?:<[^>]*>)?\??)\s+(\w+)(?:\s*=\s*(.+))?$", re.S)


def split_args(text: str) -> list[str]:
    """The arguments of a UDL signature: its commas outside `<...>` (`record<string, string>`)."""
    return re.split(r",(?![^<]*>)", text)


def parse_args(text: str) -> tuple[list[str], dict[str, str], dict[str, str]]:
    names: list[str] = []
    defaults: dict[str, str] = {}
    types: dict[str, str] = {}
    for raw in (a.strip() for a in split_args(text)):
        if not raw:
            continue
        arg = ARG.match(raw)
        assert arg, raw
        kind, name, default = arg.groups()
        names.append(name)
        types[name] = kind
        if default is not None:
            defaults[name] = default.strip()
    return names, defaults, types


@dataclass
class Block:
    kind: str
    name: str
    attrs: str
    members: list[Member] = field(default_factory=list)


def parse_udl(text: str) -> dict[str, Block]:
    text = re.sub(r"//[^\n]*", "", text)
    blocks: dict[str, Block] = {}
    for match in re.finditer(r"(\[[^\]]*\])?\s*(namespace|enum|dictionary|interface)\s+(\w+)\s*\{(.*?)\};", text, re.S):
        attrs, kind, name, body = match.groups()
        block = Block(kind, name, attrs or "")
        for raw in body.split(";" if kind != "enum" else ","):
            raw = raw.strip()
            if not raw:
                continue
            member_attrs = ""
            attr_match = re.match(r"\[([^\]]*)\]\s*(.*)", raw, re.S)
            if attr_match:
                member_attrs, raw = attr_match.groups()
            if kind == "enum":
                block.members.append(Member(raw.strip('"'), []))
            elif kind == "dictionary":
                decl = re.match(r"([\w<>?]+)\s+(\w+)(?:\s*=\s*(.+))?$", raw, re.S)
                assert decl, raw
                block.members.append(Member(decl.group(2), [], member_attrs, decl.group(3)))
            else:
                decl = re.match(r"(?:([\w<>?]+)\s+)?(\w+)\s*\((.*)\)$", raw, re.S)
                assert decl, raw
                args, defaults, types = parse_args(decl.group(3))
                block.members.append(Member(decl.group(2), args, member_attrs, None, decl.group(1), defaults, types))
        blocks[name] = block
    return blocks


UDL = parse_udl((REPO / "core" / "src" / "cobo_oauth.udl").read_text(encoding="utf-8"))
# Not mirrored: Python gets the library's log records in the `logging` module (logger
# "cobo_oauth"); the log sink exists for Kotlin and Swift.
LOGGING_ONLY_ELSEWHERE = {"LogSink", "LogRecord", "LogLevel", "set_log_sink"}
assert LOGGING_ONLY_ELSEWHERE - {"set_log_sink"} <= set(UDL), "the UDL changed: revisit LOGGING_ONLY_ELSEWHERE"
for name in LOGGING_ONLY_ELSEWHERE:
    UDL.pop(name, None)
UDL["cobo_oauth"].members = [m for m in UDL["cobo_oauth"].members if m.name not in LOGGING_ONLY_ELSEWHERE]
BLOCKS = {kind: [b for b in UDL.values() if b.kind == kind] for kind in ("namespace", "enum", "dictionary", "interface")}
ERRORS = [b for b in BLOCKS["interface"] if "Error" in b.attrs]
# Implemented only in Python (no built-in instances): a protocol, not a class.
PROTOCOL_ONLY = {"CoordinatedTokenStore"}
OBJECTS = [b for b in BLOCKS["interface"] if "Error" not in b.attrs and b.name not in PROTOCOL_ONLY]


def params(callable_: Any) -> list[str]:
    return [p for p in inspect.signature(callable_).parameters if p not in ("self", "cls")]


def constructor_params(cls: type) -> list[str] | None:
    """The class call's parameters; None where CPython cannot tell (3.9 ignores a
    native class's __text_signature__ under the stable ABI)."""
    try:
        return params(cls)
    except ValueError:
        assert sys.version_info < (3, 10), f"{cls.__name__} has no signature"
        return None


def test_the_udl_was_parsed() -> None:
    assert [b.name for b in BLOCKS["namespace"]] == ["cobo_oauth"]
    assert len(BLOCKS["namespace"][0].members) >= 4
    assert {b.name for b in OBJECTS} >= {"AppKey", "ResponseVerifier", "OAuthClient"}
    assert {b.name for b in BLOCKS["dictionary"]} >= {"OrgToken", "SignedRequest", "ClientConfig"}
    assert [b.name for b in ERRORS] == ["CoboOAuthError"]
    assert len(ERRORS[0].members) == len(VARIANT_CLASSES)


def test_the_token_manager_parts_were_parsed() -> None:
    store = UDL["TokenStore"]
    assert store.kind == "interface" and "Trait" in store.attrs and "WithForeign" in store.attrs
    assert [(m.name, m.args, m.returns) for m in store.members] == [
        ("load", ["org_id"], "StoredToken?"),
        ("save", ["org_id", "token"], "void"),
        ("delete", ["org_id"], "void"),
    ]
    constructor = UDL["TokenManager"].members[0]
    assert constructor.name == "constructor"
    assert constructor.args == ["client", "client_id", "store", "config"]
    assert constructor.arg_defaults == {"store": "null", "config": "null"}
    assert constructor.arg_types["store"] == "TokenStore?" and constructor.arg_types["config"] == "TokenManagerConfig?"
    expires = next(m for m in UDL["TokenManager"].members if m.name == "refresh_token_expires_at")
    assert expires.returns == "timestamp?"
    functions = {m.name: m for m in BLOCKS["namespace"][0].members}
    assert functions["file_token_store"].returns == "TokenStore" and functions["file_token_store"].args == ["path", "store_key"]
    assert {"Store", "AuthorizationRequired"} <= {m.name for m in ERRORS[0].members}


@pytest.mark.parametrize("function", BLOCKS["namespace"][0].members, ids=lambda m: m.name)
def test_namespace_function(function: Member) -> None:
    assert function.name in cobo_oauth.__all__
    assert params(getattr(cobo_oauth, function.name)) == function.args


@pytest.mark.parametrize("enum", BLOCKS["enum"], ids=lambda b: b.name)
def test_enum(enum: Block) -> None:
    python_enum = getattr(cobo_oauth, enum.name)
    assert [member.name for member in python_enum] == [upper_snake(v.name) for v in enum.members]


def upper_snake(variant: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", variant).upper()


def test_enum_variants_are_named_as_in_kotlin() -> None:
    assert [upper_snake(name) for name in ("Prod", "CoboAuth", "AccessToken")] == ["PROD", "COBO_AUTH", "ACCESS_TOKEN"]


@pytest.mark.parametrize("variant", ERRORS[0].members, ids=lambda m: m.name)
def test_error_variant(variant: Member) -> None:
    cls = VARIANT_CLASSES[variant.name]
    expected_name = "RequestTimeoutError" if variant.name == "Timeout" else f"{variant.name}Error"
    assert cls.__name__ == expected_name
    assert getattr(cobo_oauth, expected_name) is cls and expected_name in cobo_oauth.__all__
    assert issubclass(cls, cobo_oauth.CoboOAuthError)
    signature = inspect.signature(cls.__init__)
    keyword_only = [p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert keyword_only == variant.args
    error = cls("message", **{name: f"value of {name}" for name in variant.args})
    for name in variant.args:
        assert getattr(error, name) == f"value of {name}"


def test_no_error_class_beyond_the_udl() -> None:
    exported = {
        obj
        for name in cobo_oauth.__all__
        if isinstance(obj := getattr(cobo_oauth, name), type) and issubclass(obj, cobo_oauth.CoboOAuthError)
    }
    assert exported == set(VARIANT_CLASSES.values()) | {cobo_oauth.CoboOAuthError}


def udl_default(text: str) -> Any:
    text = text.strip()
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    if text.startswith('"'):
        return cobo_oauth.Environment[text.strip('"').upper()]
    return int(text)


@pytest.mark.parametrize("record", BLOCKS["dictionary"], ids=lambda b: b.name)
def test_record(record: Block) -> None:
    cls = getattr(cobo_oauth, record.name)
    assert record.name in cobo_oauth.__all__
    fields = [m.name for m in record.members]
    constructor = constructor_params(cls)
    assert constructor is None or sorted(constructor) == sorted(fields)
    for name in fields:
        assert isinstance(inspect.getattr_static(cls, name), property) or hasattr(cls, name), name
    defaults = {m.name: udl_default(m.default) for m in record.members if m.default is not None}
    if defaults and len(defaults) == len(fields):
        instance = cls()
        for name, value in defaults.items():
            assert getattr(instance, name) == value, name


@pytest.mark.parametrize("interface", OBJECTS, ids=lambda b: b.name)
def test_interface(interface: Block) -> None:
    cls = getattr(cobo_oauth, interface.name)
    assert interface.name in cobo_oauth.__all__
    for member in interface.members:
        if member.name == "constructor":
            named = re.search(r"Name=(\w+)", member.attrs)
            if named:
                factory = getattr(cls, named.group(1))
                assert getattr(factory, "__self__", None) is cls, f"{named.group(1)} is not a classmethod"
                assert params(factory) == member.args
            else:
                constructor = constructor_params(cls)
                assert constructor is None or constructor[: len(member.args)] == member.args
                if constructor is not None:
                    signature = inspect.signature(cls)
                    for name, default in member.arg_defaults.items():
                        assert signature.parameters[name].default == udl_default(default), name
        else:
            method = getattr(cls, member.name)
            assert callable(method), member.name
            assert params(method) == member.args, member.name


# Python-only helpers: the typing.Protocols of stores written in Python.
PYTHON_ONLY = {"__version__", "TokenStoreProtocol", "CoordinatedTokenStoreProtocol"}


def test_every_export_is_in_the_udl() -> None:
    udl_names = {b.name for b in BLOCKS["enum"] + BLOCKS["dictionary"] + OBJECTS}
    udl_names |= {m.name for m in BLOCKS["namespace"][0].members}
    udl_names |= {cls.__name__ for cls in VARIANT_CLASSES.values()} | {"CoboOAuthError"}
    assert set(cobo_oauth.__all__) - PYTHON_ONLY == udl_names


def test_the_foreign_traits_have_protocols_with_the_same_methods() -> None:
    protocol = cobo_oauth.TokenStoreProtocol
    for member in UDL["TokenStore"].members:
        assert params(getattr(protocol, member.name)) == member.args
    assert isinstance(cobo_oauth.memory_token_store(), protocol)
    coordinated = cobo_oauth.CoordinatedTokenStoreProtocol
    assert [m.name for m in UDL["CoordinatedTokenStore"].members] == [
        name for name in vars(coordinated) if not name.startswith("_")
    ]
    for member in UDL["CoordinatedTokenStore"].members:
        assert params(getattr(coordinated, member.name)) == member.args
