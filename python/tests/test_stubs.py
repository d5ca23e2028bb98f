"""The type stubs say what the classes do at run time, in a form every
checker reads: ``__match_args__`` as a tuple of literal names (Pyright
refuses ``case tcphub.Transmit(handle, data):`` against a bare
``Tuple[str, str]``), the same names as the native classes."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Tuple

import pytest

import tcphub

STUB = Path(tcphub.__file__).with_name("_tcphub.pyi")


def stub_match_args() -> Dict[str, ast.AST]:
    """Class name -> the annotation of its ``__match_args__`` in the stub."""
    found = {}
    for node in ast.parse(STUB.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__match_args__" for t in item.targets
            ):
                raise AssertionError(f"{node.name}.__match_args__ has no annotation: checkers infer Tuple[str, ...]")
            if isinstance(item, ast.AnnAssign) and getattr(item.target, "id", None) == "__match_args__":
                found[node.name] = item.annotation
    return found


def literal_names(annotation: ast.AST) -> Tuple[str, ...]:
    """``Tuple[Literal["a"], Literal["b"]]`` -> ``("a", "b")``; fails on anything else."""
    assert isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value) == "Tuple", ast.unparse(annotation)
    elements = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
    names = []
    for element in elements:
        assert isinstance(element, ast.Subscript) and ast.unparse(element.value) == "Literal", ast.unparse(element)
        assert isinstance(element.slice, ast.Constant) and isinstance(element.slice.value, str)
        names.append(element.slice.value)
    return tuple(names)


def test_every_match_args_in_the_stub_is_literal_names_equal_to_the_runtime_ones():
    found = stub_match_args()
    assert {"Transmit", "Close", "Message", "Synced", "Session", "Received"} <= set(found)
    for name, annotation in found.items():
        if ast.unparse(annotation) == "Tuple[()]":
            assert getattr(tcphub, name).__match_args__ == (), name
            continue
        assert literal_names(annotation) == getattr(tcphub, name).__match_args__, name


@pytest.mark.skipif(shutil.which("mypy") is None and not Path(sys.executable).with_name("mypy").exists(), reason="mypy not installed")
def test_a_checker_sees_literal_match_args(tmp_path):
    program = tmp_path / "uses_match_args.py"
    program.write_text(
        "import tcphub\nreveal_type(tcphub.Transmit.__match_args__)\nreveal_type(tcphub.Message.__match_args__)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir=/dev/null", str(program)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout
    assert "Literal['handle']" in out and "Literal['data']" in out, out
    assert "Literal['alias']" in out and "Literal['message']" in out, out


@pytest.mark.skipif(shutil.which("mypy") is None and not Path(sys.executable).with_name("mypy").exists(), reason="mypy not installed")
def test_a_checker_refuses_a_callback_for_another_kind_of_event(tmp_path):
    program = tmp_path / "uses_on.py"
    program.write_text(
        "import tcphub\n"
        "hub = tcphub.Server(port=0)\n"
        "@hub.on(tcphub.Message)\n"
        "def wrong(event: tcphub.Synced) -> None: ...\n"
        "@hub.on(tcphub.Message)\n"
        "def right(event: tcphub.Message) -> None: ...\n"
        "@hub.on(tcphub.Message)\n"
        "def any_event(event: tcphub.Event) -> None: ...\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir=/dev/null", str(program)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "uses_on.py:3:" in errors[0], done.stdout
