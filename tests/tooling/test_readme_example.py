"""The README's "Testing your jobs" example is a real test of the suite, word for word."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = re.compile(r"<!-- example: (?P<path>\S+) -->\n```python\n(?P<code>.*?)```", re.DOTALL)


def test_each_readme_example_marked_with_a_path_is_that_files_content() -> None:
    examples = EXAMPLE.findall((ROOT / "README.md").read_text())

    assert [path for path, _ in examples] == ["tests/jobs/test_example_from_readme.py"]
    for path, code in examples:
        assert code == (ROOT / path).read_text(), f"README's example differs from {path}"
