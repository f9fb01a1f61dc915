"""A temporary profile whose models are behaviours of the local test server, priced $1/$2 per Mtok."""

from __future__ import annotations

import textwrap
from pathlib import Path


def stub_profile(folder: Path, api_base: str, models: list[str]) -> str:
    entries = "\n".join(
        f"  {name}:\n    model: openai/{name}\n    api_base: {api_base}\n"
        f"    price: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}"
        for name in models)
    path = folder / "profile.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        name: compare-test
        models:
        {models}
        tiers:
          main: [{first}]
        routes:
          - name: code
            when: {{code: true}}
            tier: main
          - name: everything
            tier: main
        timeouts: {{first_token: 5, idle: 5, total: 30}}
        """).format(models=entries, first=", ".join(models)))
    return str(path)
