"""How the terminal console lays a line out in rows, without a terminal."""

from __future__ import annotations

import pytest
from prompt_toolkit.utils import get_cwidth

from cryptochat.client.terminal import wrap


def _rows(text: str, indent: int, width: int) -> list[str]:
    return ["".join(fragment[1] for fragment in row) for row in wrap([("", text)], indent, width)]


def test_a_line_breaks_between_words_and_continues_under_its_text() -> None:
    assert _rows("op: one two three four", 4, 13) == ["op: one two", "    three", "    four"]


def test_a_word_longer_than_a_row_is_cut_where_the_row_ends() -> None:
    assert _rows("op: abcdefghijkl", 4, 10) == ["op: abcdef", "    ghijkl"]


def test_spaces_inside_a_row_are_kept() -> None:
    assert _rows("op:     indented code", 4, 40) == ["op:     indented code"]


@pytest.mark.parametrize("width", range(1, 12))
def test_any_width_gives_rows_that_fit_and_keep_every_character(width: int) -> None:
    text = "[12:00] bob: Καλημέρα 漢字漢字 👋🏽 " + "x" * 30 + " end"
    rows = _rows(text, 13, width)
    assert all(get_cwidth(row) <= max(width, 2) for row in rows)
    assert "".join(rows).replace(" ", "") == text.replace(" ", "")
