"""Counts in staff words: "1 session", "3 sessions", never "session(s)"."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`counted(1, "session")` -> "1 session"; `counted(2, "difference")` -> "2 differences";
    an irregular plural is passed: `counted(2, "data source", "data sources")`."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
