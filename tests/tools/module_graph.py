#!/usr/bin/env python3
"""Prints the module graph of a Rust crate and fails if it has a cycle.

    tests/tools/module_graph.py core/src/lib.rs native/src/lib.rs native/src/main.rs

A module is a file (`a.rs`, or `a/mod.rs`). There is an edge A -> B when A
imports from B: `use crate::b...`, `use super::b...` (a sibling), or a
fully qualified `crate::b::` path in code. A child using its own parent
(`use super::Hub` in `hub/input.rs`) is how a type's methods are split
across files, not a dependency between peers, so it is left out. The
output lists each module's dependencies, then either "no cycles" or every
cycle found, and the exit status is 1 when there is one.
"""
import re
import sys
from pathlib import Path

USE = re.compile(r"\buse\s+(crate|super)::([^;]+);", re.S)
PATH = re.compile(r"\b(crate|super)::([a-z_][a-z0-9_]*)")


MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_][a-z0-9_]*)\s*;", re.M)


def modules(root: Path):
    """Module name (dotted, "" for the root) -> file, following `mod x;`
    declarations from the crate root, as the compiler does."""
    found = {}

    def walk(name: str, path: Path):
        found[name] = path
        # Children of `a.rs` live in `a/`; of `mod.rs`, `lib.rs` or
        # `main.rs`, beside it.
        if path.name in ("mod.rs", "lib.rs", "main.rs"):
            base = path.parent
        else:
            base = path.with_suffix("")
        for child in MOD.findall(path.read_text().split("#[cfg(test)]")[0]):
            file = base / f"{child}.rs"
            if not file.exists():
                file = base / child / "mod.rs"
            if file.exists():
                walk(f"{name}.{child}" if name else child, file)

    walk("", root)
    return found


def heads(text: str):
    """First path segments named after `crate::` or `super::` in a use tree."""
    text = text.strip()
    if text.startswith("{"):
        inner = text[1:text.rindex("}")]
        depth, start, items = 0, 0, []
        for i, ch in enumerate(inner):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(inner[start:i])
                start = i + 1
        items.append(inner[start:])
        return [h for item in items if item.strip() for h in heads(item)]
    return [re.split(r"[:\s{]", text, maxsplit=1)[0]]


def graph(root: Path):
    mods = modules(root)
    edges = {name: set() for name in mods}
    for name, path in mods.items():
        source = path.read_text()
        # Test modules may reach anywhere; they are not part of the design.
        source = source.split("#[cfg(test)]")[0]
        parent = name.rsplit(".", 1)[0] if "." in name else ""
        refs = []
        for kind, rest in USE.findall(source):
            refs += [(kind, h) for h in heads(rest)]
        refs += PATH.findall(source)
        for kind, head in refs:
            if kind == "crate":
                target = head
            else:
                target = f"{parent}.{head}" if parent else head
            # Longest known module that the path names.
            while target and target not in mods:
                target = target.rsplit(".", 1)[0] if "." in target else ""
            if not target or target == name:
                continue
            if name.startswith(target + "."):
                continue  # a child using its parent
            if target.startswith(name + "."):
                continue  # a parent using its own child
            edges[name].add(target)
    return edges


def cycles(edges):
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def main(roots):
    bad = False
    for root in map(Path, roots):
        edges = graph(root)
        print(f"== {root}")
        for name in sorted(edges):
            deps = ", ".join(sorted(edges[name])) or "-"
            print(f"  {name or '(root)'} -> {deps}")
        found = cycles(edges)
        if found:
            bad = True
            for cycle in found:
                print("  CYCLE: " + " -> ".join(c or "(root)" for c in cycle))
        else:
            print("  no cycles")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["core/src/lib.rs", "native/src/lib.rs", "native/src/main.rs"]))
