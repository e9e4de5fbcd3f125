from __future__ import annotations

import pytest

from tests.support.markdown_blocks import blocks

DOC = """# T

```bash
echo one
```

<!-- not run by the docs test: needs an ESP32 -->
```bash
mpremote reset
```

````text
```bash
not a block of its own
```
````

```python
print(1)
```
"""


def test_blocks_are_found_with_their_language_line_and_reason() -> None:
    found = blocks(DOC)
    assert [(b.line, b.language, b.runs) for b in found] == [
        (3, "bash", True),
        (8, "bash", False),
        (12, "text", False),
        (18, "python", False),
    ]
    assert found[0].text == "echo one\n"
    assert found[1].not_run_because == "needs an ESP32"
    assert "not a block of its own" in found[2].text


def test_an_unclosed_fence_is_an_error_not_a_silently_shorter_doc() -> None:
    with pytest.raises(ValueError, match="line 3"):
        blocks("x\n\n```bash\necho never closed\n")
