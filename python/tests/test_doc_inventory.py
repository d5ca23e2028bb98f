"""Every fenced block in README.md and docs/**/*.md is either run by a named
test or is plainly not a program, so a snippet cannot drift from the code
unnoticed.

The convention, for whoever adds a block:

* A block that is **not a program** says so by its info string:
  ``text`` (output, or anything to read), ``json`` (a document or frames),
  ``toml`` and ``yaml`` (configuration), ``transcript`` (a wire exchange
  that core/tests/protocol_doc.rs replays against the hub) or ``wire`` (a
  wire exchange, ``>`` sent and ``<`` received, that needs a setup no
  replay has). Such a block needs no marker, unless it shows a terminal
  session (a line starting with ``$ ``): that runs programs, so it is
  marked as a program is.
* Any other block is a **program** (``sh``, ``console``, ``python``,
  ``rust``, ``js``, ...) and the line right before its fence is one of:

  - ``<!-- run: PATH [NAME] -->``: the test PATH (relative to the repo)
    runs the block as written. PATH must name the page (``native.md``,
    ``README.md``), and NAME, when given, is how the test finds the block
    and must appear in PATH too.
  - ``<!-- example: PATH -->``: the block is the file PATH byte for byte,
    and the file runs: a ``python/examples`` script (test_examples.py
    runs each) or a ``native/examples`` program declared with
    ``harness = false`` in native/Cargo.toml (``cargo test --all-targets``
    runs it).
  - ``<!-- not run: REASON -->``: the suite cannot run it as written
    (it is the suite itself, a benchmark of many minutes, a server for a
    person's browser, ...); REASON says which.

* A block with no info string fails: it must be classified.
* Pages written by a benchmark script (they open with "Written by
  `tests/bench/...` (do not edit by hand") record how that run was made;
  their blocks are benchmark commands, not run by the suite, and need no
  marker (the script rewrites the page, markers and all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_PROGRAMS = {"text", "json", "toml", "yaml", "transcript", "wire"}
MARKER = re.compile(r"<!-- (run|example|not run): (.+?) -->")
GENERATED = re.compile(r"Written by `(tests/bench/[\w/.-]+)` \(do not edit by hand")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    info: str
    marker: Optional[str]  # the line before the fence
    body: str

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> List[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path) -> List[Block]:
    lines = page.read_text(encoding="utf-8").split("\n")
    found: List[Block] = []
    at = 0
    while at < len(lines):
        opening = FENCE.match(lines[at])
        if opening is None:
            at += 1
            continue
        fence = opening.group(2)
        end = at + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        assert end < len(lines), f"{page}:{at + 1}: the block never closes"
        before = lines[at - 1].strip() if at > 0 else ""
        found.append(
            Block(
                page=page,
                line=at + 1,
                info=opening.group(3).strip(),
                marker=before if before.startswith("<!--") else None,
                body="\n".join(lines[at + 1 : end]) + "\n",
            )
        )
        at = end + 1
    return found


ALL = [block for page in pages() for block in blocks(page)]


def generated_by(page: Path) -> Optional[str]:
    if not page.is_file():
        return None
    found = GENERATED.search(page.read_text(encoding="utf-8"))
    return found.group(1) if found else None


def test_the_pages_have_blocks():
    # A reader that found nothing would pass everything.
    assert len(ALL) > 50
    assert {b.page.name for b in ALL} >= {"README.md", "native.md", "python.md", "security.md"}


@pytest.mark.parametrize("block", ALL, ids=Block.where)
def test_every_block_is_run_or_not_a_program(block: Block) -> None:
    where = block.where()
    assert block.info, f"{where}: a block with no info string; say what it is (see this test's docstring)"
    language = block.info.split(",")[0].split()[0]
    script = generated_by(block.page)
    if script is not None:
        assert (ROOT / script).is_file(), f"{where}: the page says {script} writes it"
        return
    session = any(line.startswith("$ ") for line in block.body.splitlines())
    if block.marker is None:
        assert language in NOT_PROGRAMS and not session, (
            f"{where}: a ```{block.info} block is a program that no test is named as running; "
            "mark it <!-- run: TEST -->, <!-- example: FILE --> or <!-- not run: REASON -->, "
            f"or give it an info string from {sorted(NOT_PROGRAMS)} if it is not a program"
        )
        return
    marker = MARKER.fullmatch(block.marker)
    assert marker, f"{where}: {block.marker!r} is not a marker this test knows"
    kind, value = marker.groups()
    if kind == "run":
        test, *name = value.split()
        path = ROOT / test
        assert path.is_file(), f"{where}: no test {test}"
        source = path.read_text(encoding="utf-8")
        assert block.page.name in source, f"{where}: {test} never names {block.page.name}"
        for n in name:
            assert n in source, f"{where}: {test} never names the block {n!r}"
    elif kind == "example":
        path = ROOT / value
        assert path.is_file(), f"{where}: no file {value}"
        assert block.body == path.read_text(encoding="utf-8"), f"{where}: the page and {value} differ"
        if value.startswith("python/examples/"):
            runner = (ROOT / "python/tests/test_examples.py").read_text(encoding="utf-8")
            assert path.name in runner, f"{where}: test_examples.py does not run {value}"
        elif value.startswith("native/examples/"):
            manifest = (ROOT / "native/Cargo.toml").read_text(encoding="utf-8")
            entry = f'[[example]]\nname = "{path.stem}"\nharness = false\n'
            assert entry in manifest, f"{where}: native/Cargo.toml does not declare {path.stem} with harness = false"
        else:
            pytest.fail(f"{where}: {value} is in no folder of examples a test runs")
    else:
        assert len(value.split()) >= 3, f"{where}: say why it is not run"


def test_the_markers_sit_right_before_a_fence():
    """A marker a blank line away from its block, or left behind when the
    block moved, would mark nothing."""
    for page in pages():
        lines = page.read_text(encoding="utf-8").split("\n")
        for n, line in enumerate(lines):
            if MARKER.search(line):
                following = lines[n + 1] if n + 1 < len(lines) else ""
                assert FENCE.match(following), f"{page.relative_to(ROOT)}:{n + 1}: a marker with no block after it"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("```\nls\n```\n", "no info string"),
        ("```sh\nls\n```\n", "no test is named"),
        ("<!-- run: nowhere.py -->\n```sh\nls\n```\n", "no test nowhere.py"),
        ("<!-- not run: -->\n```sh\nls\n```\n", "not a marker"),
        ("<!-- not run: slow -->\n```sh\nls\n```\n", "say why"),
        ("```text\n$ ls\n```\n", "no test is named"),
    ],
)
def test_the_inventory_refuses_unclassified_blocks(text: str, problem: str) -> None:
    page = ROOT / "docs" / "__inventory_probe__.md"
    # Built in memory: the probe page is never written into the tree.
    lines = text.split("\n")
    marker = lines[0] if lines[0].startswith("<!--") else None
    fence = lines[1] if marker else lines[0]
    body = "\n".join(lines[2:-2] if marker else lines[1:-2]) + "\n"
    block = Block(page=page, line=1, info=fence[3:].strip(), marker=marker, body=body)
    with pytest.raises(AssertionError, match=problem):
        test_every_block_is_run_or_not_a_program(block)
