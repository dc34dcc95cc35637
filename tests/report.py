"""A tally of what the hardening tests tried, printed at the end of a pytest run.

Tests call :func:`record` with a section ("schemathesis", "attacks", "concurrency",
"crashes"), what was tried and how many; ``conftest.pytest_terminal_summary`` prints
the table. The tally only reports: no test reads it back to decide a result.
"""

from __future__ import annotations

from collections import Counter

TALLY: Counter[tuple[str, str]] = Counter()


def record(section: str, what: str, count: int = 1) -> None:
    """Add ``count`` to the row ``what`` of ``section``."""
    TALLY[(section, what)] += count


def export() -> list[list]:
    """The tally as ``[section, what, count]`` rows (for pytest-xdist's worker output)."""
    return [[section, what, count] for (section, what), count in TALLY.items()]


def merge(rows: list[list]) -> None:
    """Add the rows of :func:`export` (from another process) to the tally."""
    for section, what, count in rows:
        record(section, what, count)


def summary_lines() -> list[str]:
    """The table as text lines, sections in first-seen order; empty when nothing ran."""
    if not TALLY:
        return []
    width = max(len(what) for _, what in TALLY) + 2
    sections: dict[str, list[str]] = {}
    for (section, what), count in TALLY.items():
        sections.setdefault(section, []).append(f"  {what:<{width}}{count:>10,}")
    return [line for section, rows in sections.items() for line in (f"{section}:", *rows)]
