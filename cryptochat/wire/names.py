"""What a participant name may be, and when two names look alike: UTS #39 as ICU implements it. No I/O.

Everything comes from ICU's data (through PyICU), so normalisation, identifier status, scripts and the
confusable skeleton all follow one version of Unicode, :data:`UNICODE_VERSION`, which docs/protocol.md
pins: two programs that disagreed on it could disagree on whether a name is valid or taken.

A name is kept in NFKC form and must be an identifier a person can read (UTS #39): no default-ignorable
code points, only characters whose Identifier_Status is Allowed, scripts mixed no more than the Moderately
Restrictive level allows, digits of one decimal system, no repeated nonspacing mark. Two names look alike
when their confusable skeletons agree, case-insensitively.
"""

from __future__ import annotations

import functools

import icu

__all__ = ["MAX_NAME_BYTES", "UNICODE_VERSION", "check_name", "describe", "name_keys", "normalise_name"]

MAX_NAME_BYTES = 32
UNICODE_VERSION = str(icu.UNICODE_VERSION)
"""The Unicode version of every rule here (ICU's data); docs/protocol.md says which one the project pins."""

_NFKC = icu.Normalizer2.getNFKCInstance()
_DEFAULT_IGNORABLE = icu.UProperty.DEFAULT_IGNORABLE_CODE_POINT
_NEUTRAL_SCRIPTS = frozenset({icu.UScriptCode.COMMON, icu.UScriptCode.INHERITED})


def _allowed() -> icu.UnicodeSet:
    # ICU keeps Identifier_Status=Allowed as two sets, Table 1's recommended characters and the few
    # inclusions (the hyphen, the full stop, the middle dot...).
    checker = icu.SpoofChecker()
    allowed = icu.UnicodeSet()
    allowed.addAll(checker.getRecommendedUnicodeSet())
    allowed.addAll(checker.getInclusionUnicodeSet())
    allowed.freeze()
    return allowed


_ALLOWED = _allowed()


def _checker() -> icu.SpoofChecker:
    checker = icu.SpoofChecker()
    checker.setAllowedUnicodeSet(_ALLOWED)
    checker.setRestrictionLevel(icu.URestrictionLevel.MODERATELY_RESTRICTIVE)
    checker.setChecks(
        icu.USpoofChecks.RESTRICTION_LEVEL | icu.USpoofChecks.MIXED_NUMBERS | icu.USpoofChecks.INVISIBLE
    )
    return checker


_CHECKER = _checker()


def normalise_name(name: str) -> str:
    """The form a name is kept and shown in: NFKC, so fullwidth or ligature letters become plain ones."""
    return str(_NFKC.normalize(name))


def describe(char: str) -> str:
    """``U+FE0F (VARIATION SELECTOR-16)``: a character named without showing it, which may be invisible."""
    name = str(icu.Char.charName(char))
    return f"U+{ord(char):04X} ({name})" if name else f"U+{ord(char):04X}"


def check_name(name: str) -> str | None:
    """Why ``name`` (already normalised) may not be a participant's name, or ``None`` if it may."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= MAX_NAME_BYTES:
        return f"a name must be 1 to {MAX_NAME_BYTES} bytes of UTF-8"
    for char in name:
        if char == ":":
            return "a name must not contain a colon"
        if icu.Char.hasBinaryProperty(char, _DEFAULT_IGNORABLE):
            return f"a name must not contain {describe(char)}: it is invisible (default-ignorable)"
        if not _ALLOWED.contains(char):
            return f"a name must not contain {describe(char)}: UTS #39 does not allow it in identifiers"
    failed = _CHECKER.check(name)
    if failed & icu.USpoofChecks.RESTRICTION_LEVEL:
        return f"a name must not mix the scripts {' and '.join(_scripts(name))}"
    if failed & icu.USpoofChecks.MIXED_NUMBERS:
        return "a name must not mix digits of different systems"
    if failed & icu.USpoofChecks.INVISIBLE:
        return "a name must not repeat a combining mark"
    return None


def _scripts(name: str) -> list[str]:
    found: dict[str, None] = {}
    for char in name:
        script = icu.Script.getScript(ord(char))
        if script.getScriptCode() not in _NEUTRAL_SCRIPTS:
            found[str(script.getName())] = None
    return list(found)


def _fold(text: str) -> str:
    return str(icu.UnicodeString(text).foldCase())


def _skeleton(text: str) -> str:
    return str(_CHECKER.getSkeleton(0, text))


@functools.lru_cache(maxsize=4096)
def name_keys(name: str) -> frozenset[str]:
    """What a name looks like, as keys: two names that share a key can be mistaken for each other.

    Both keys fold the skeleton, since a skeleton may hold capitals (``b0b``'s is ``bOb``, like ``bob``).
    One folds case before taking the skeleton as well, because the skeleton of a capital can differ from
    its small letter's (``I`` looks like ``l``, so ``Il`` and ``il`` differ unless folded first).
    """
    plain = normalise_name(name)
    return frozenset(
        ("folded:" + _fold(_skeleton(_fold(plain))), "skeleton:" + _fold(_skeleton(plain)))
    )
