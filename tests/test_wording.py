"""The wording messages share: a list of names cut short after a few."""

from __future__ import annotations

from dvx.wording import named_list


def test_a_list_no_longer_than_its_limit_is_named_whole():
    assert named_list([], most=3) == ""
    assert named_list(["a"], most=3) == "a"
    assert named_list(["a", "b", "c"], most=3) == "a, b, c"


def test_a_longer_list_names_the_first_few_and_counts_the_others():
    assert named_list(["a", "b", "c", "d"], most=3) == "a, b, c and 1 more"
    assert named_list([f"f{i}" for i in range(25)], most=2) == "f0, f1 and 23 more"


def test_each_name_is_written_as_asked_and_only_the_named_ones_are_asked_for():
    asked = []

    def quoted(name: str) -> str:
        asked.append(name)
        return f"'{name}'"

    assert named_list(["a, b", "c", "d"], most=2, name=quoted) == "'a, b', 'c' and 1 more"
    assert asked == ["a, b", "c"]
