"""A generated set of digits "as users bring them" (dark ink on light paper, unlike MNIST;
`generate_user_digits` in tests/helpers.py says how they are drawn), and accuracy by style.

`python -m bench.user_digits [FOLDER] [COUNT]` writes the set.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import UserDigit, generate_user_digits


def accuracy_by_style(results: list[tuple[UserDigit, int | None, str]]) -> dict[str, float]:
    """Share of correct answers per style ('unsure' and 'rejected' count as wrong)."""
    totals: dict[str, list[int]] = {}
    for digit, predicted, status in results:
        totals.setdefault(digit.style, []).append(int(status == "ok" and predicted == digit.label))
    return {style: sum(hits) / len(hits) for style, hits in sorted(totals.items())}


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/user_digits")
    print(len(generate_user_digits(out, int(sys.argv[2]) if len(sys.argv) > 2 else 500)), "written to", out)
