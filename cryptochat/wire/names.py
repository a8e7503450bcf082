"""When two participant names would look alike: NFKC normalisation and the UTS #39 confusable skeleton.

The confusable data is Unicode's ``confusables.txt`` as shipped by the ``confusable_homoglyphs`` package.
That package stores each mapping in both directions (a character lists its prototype, the prototype lists
every character confused with it), so each prototype and its look-alikes form one connected group; every
member of a group is replaced by one representative, which gives the same equalities as the skeleton of
UTS #39 section 4. No I/O once the data is loaded.
"""

from __future__ import annotations

import functools
import unicodedata

from confusable_homoglyphs.confusables import confusables_data

__all__ = ["name_keys", "normalise_name"]

# The package wraps right-to-left characters in LEFT-TO-RIGHT MARKs so that its JSON displays well.
_DISPLAY_MARK = "\u200e"


def normalise_name(name: str) -> str:
    """The form a name is kept and shown in: NFKC, so fullwidth or ligature letters become plain ones."""
    return unicodedata.normalize("NFKC", name)


@functools.cache
def _representatives() -> dict[str, str]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def rank(x: str) -> tuple[int, str]:
        # A sequence of several characters is always a prototype (sources are single code points), so it
        # is the natural representative; otherwise the smallest code point, for a stable choice.
        return (-len(x), x)

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if rank(rb) < rank(ra):
            ra, rb = rb, ra
        if ra != rb:
            parent[rb] = ra

    for source, entries in confusables_data.items():
        for entry in entries:
            union(source.replace(_DISPLAY_MARK, ""), entry["c"].replace(_DISPLAY_MARK, ""))
    return {x: find(x) for x in parent if len(x) == 1}


def _skeleton(text: str) -> str:
    table = _representatives()
    current = unicodedata.normalize("NFD", text)
    # A representative of several characters may itself hold look-alikes: map until nothing changes.
    for _ in range(4):
        mapped = unicodedata.normalize("NFD", "".join(table.get(c, c) for c in current))
        if mapped == current:
            break
        current = mapped
    return current


def name_keys(name: str) -> frozenset[str]:
    """What a name looks like, as keys: two names that share a key can be mistaken for each other.

    One key folds case first (``Bob`` and ``b\u043eb`` with a Cyrillic o look like ``bob``), the other takes
    the skeleton first (``bOb`` looks like ``b0b``; case folding would have turned the O into an o, which
    UTS #39 does not confuse with 0).
    """
    plain = normalise_name(name)
    return frozenset(
        (
            "folded:" + _skeleton(plain.casefold()).casefold(),
            "skeleton:" + _skeleton(plain).casefold(),
        )
    )
