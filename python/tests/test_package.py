"""The package as a user meets it: exports, stubs, help, exceptions."""

from __future__ import annotations

import ast
import inspect
import pydoc
import typing
from pathlib import Path

import tcphub
from tcphub import _tcphub

STUB = Path(tcphub.__file__).with_name("_tcphub.pyi")


def test_every_export_exists_and_is_documented():
    for name in tcphub.__all__:
        value = getattr(tcphub, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_stub_matches_the_native_module():
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    stubbed = {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    stubbed |= {node.target.id for node in tree.body if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)}
    stubbed -= {"__version__"}
    native = {name for name in dir(_tcphub) if not name.startswith("_")}
    assert stubbed == native
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            cls = getattr(_tcphub, node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                    assert hasattr(cls, item.name), f"{node.name}.{item.name} is stubbed but missing"


def test_py_typed_ships():
    assert Path(tcphub.__file__).with_name("py.typed").exists()


def test_help_is_useful():
    text = pydoc.render_doc(tcphub.Server, renderer=pydoc.plaintext)
    for needle in ("port=0", "alias_policy", "max_queued_bytes", "broadcast", "events", "aevents", "on(", "stop"):
        assert needle in text, needle
    hub_text = pydoc.render_doc(tcphub.Hub, renderer=pydoc.plaintext)
    assert "run loop" in hub_text and "poll" in hub_text


def test_exception_hierarchy():
    for name in (
        "ConfigError",
        "AddressInUseError",
        "UnknownAliasError",
        "UnknownSessionError",
        "UnknownRoomError",
        "InvalidRoomError",
        "TooManyRoomsError",
        "InvalidMessageError",
        "ServerStoppedError",
        "ConnectionClosedError",
        "TlsError",
        "RejectedError",
        "UnauthorizedError",
        "ForbiddenError",
    ):
        assert issubclass(getattr(tcphub, name), tcphub.Error), name
    assert issubclass(tcphub.UnauthorizedError, tcphub.RejectedError)
    assert issubclass(tcphub.ForbiddenError, tcphub.RejectedError)
    assert issubclass(tcphub.UnknownRoomError, LookupError)
    assert issubclass(tcphub.InvalidRoomError, ValueError)
    assert issubclass(tcphub.AddressInUseError, OSError)
    assert issubclass(tcphub.ConnectionClosedError, ConnectionError)
    assert issubclass(tcphub.TlsError, tcphub.ConnectionClosedError)
    assert issubclass(tcphub.ConfigError, ValueError)
    error = tcphub.RejectedError("alias_taken", "held")
    assert (error.code, error.detail, str(error)) == ("alias_taken", "held", "alias_taken: held")


def test_event_classes_share_a_base():
    for name in ("Connected", "Synced", "Released", "Message", "ProtocolError", "Disconnected", "Joined", "Left", "Relayed"):
        assert issubclass(getattr(tcphub, name), tcphub.Event)
        assert getattr(tcphub, name).__module__ == "tcphub"


def test_the_core_lists_its_close_reasons_and_error_codes():
    assert tcphub.CLOSE_REASONS is _tcphub.CLOSE_REASONS
    assert tcphub.ERROR_CODES is _tcphub.ERROR_CODES
    for names in (tcphub.CLOSE_REASONS, tcphub.ERROR_CODES):
        assert isinstance(names, tuple) and names
        assert len(set(names)) == len(names)
        assert all(isinstance(n, str) and n == n.lower() for n in names)
    assert "closed_by_host" in tcphub.CLOSE_REASONS and "frame_timeout" in tcphub.CLOSE_REASONS
    assert "bad_json" in tcphub.ERROR_CODES and "alias_taken" in tcphub.ERROR_CODES


def test_the_stubs_literal_types_name_what_the_core_lists():
    """The Literal types the stub uses are the core's lists, in its order:
    a reason or code added to the core fails here until the types follow."""
    assert typing.get_args(tcphub.CloseReason) == tcphub.CLOSE_REASONS
    assert typing.get_args(tcphub.ErrorCode) == tcphub.ERROR_CODES
    assert typing.get_args(tcphub.PresenceChange) == tcphub.PRESENCE_CHANGES
    # ... and the stub types the fields and constants with them.
    stub = STUB.read_text(encoding="utf-8")
    for needle in (
        "CLOSE_REASONS: Tuple[CloseReason, ...]",
        "ERROR_CODES: Tuple[ErrorCode, ...]",
        "PRESENCE_CHANGES: Tuple[PresenceChange, ...]",
        "def event(self) -> PresenceChange:",
        "def code(self) -> ErrorCode:",
        "def reason(self) -> CloseReason:",
        'reason: CloseReason = "closed_by_host"',
    ):
        assert needle in stub, needle
    # The default reason, as help() shows it, is one the core knows.
    default = inspect.signature(tcphub.Hub.close_session).parameters["reason"].default
    assert default == "closed_by_host" and default in tcphub.CLOSE_REASONS
