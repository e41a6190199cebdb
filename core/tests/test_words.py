import pytest

from core.words import counted


@pytest.mark.parametrize(
    ("n", "noun", "plural", "expected"),
    [
        (0, "session", None, "0 sessions"),
        (1, "session", None, "1 session"),
        (2, "device", None, "2 devices"),
        (1, "data source", None, "1 data source"),
        (3, "failed item", None, "3 failed items"),
        (2, "child", "children", "2 children"),
    ],
)
def test_counted_says_one_or_many(n, noun, plural, expected):
    assert counted(n, noun, plural) == expected
