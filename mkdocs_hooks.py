"""mkdocs hooks (``hooks:`` in mkdocs.yml): links from docs/ to the rest of the repository.

The guides link to code and READMEs beside docs/ (``../plugins/web/README.md``) so that they
work on GitHub. In the built site those files do not exist: such a link is rewritten to the
file on GitHub (``repo_url``), and every link inside docs/ is still checked strictly.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

_LINK = re.compile(r"\]\((\.\./[^)\s#]+)(#[^)\s]*)?\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Point links that leave docs/ at the repository on GitHub."""
    base = posixpath.dirname(page.file.src_uri)
    repo = str(config.get("repo_url") or "").rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join("docs", base, match.group(1)))
        if target == "docs" or target.startswith("docs/") or target.startswith(".."):
            return match.group(0)
        kind = "tree" if match.group(1).endswith("/") else "blob"
        return f"]({repo}/{kind}/main/{target}{match.group(2) or ''})"

    return _LINK.sub(rewrite, markdown)
