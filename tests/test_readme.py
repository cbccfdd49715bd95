"""README's Python example runs as written, with nothing imported but ``nasframe as nf`` (and numpy)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    block = re.search(r"## Python\n.*?```python\n(.*?)```", README.read_text(), flags=re.S).group(1)
    imports = {line for line in block.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"import numpy as np", "import nasframe as nf"}
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)
    assert namespace["history"].best() is not None
    assert set(namespace["regret"]["searcher"]) == {"random", "evolution"}
    assert namespace["X"].shape == (100, 364) and namespace["mean"].shape == (10,)
