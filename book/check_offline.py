"""Fail when a built page loads a script or stylesheet from another host (the book must work offline)."""
import re
import sys
from pathlib import Path

ASSET_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
REMOTE_URL = re.compile(r"""\b(?:src|href)=["'](?:https?:)?//""", re.IGNORECASE)
LOADS_SOMETHING = re.compile(r"<script|stylesheet|preload|modulepreload", re.IGNORECASE)


def remote_assets(html_root: Path) -> list[str]:
    """List 'page: tag' for every script or stylesheet tag that points at another host."""
    found = []
    for page in sorted(html_root.rglob("*.html")):
        for tag in ASSET_TAG.findall(page.read_text(encoding="utf-8")):
            if REMOTE_URL.search(tag) and LOADS_SOMETHING.search(tag):
                found.append(f"{page.relative_to(html_root)}: {tag}")
    return found


if __name__ == "__main__":
    root = Path(sys.argv[1])
    problems = remote_assets(root)
    print(*problems, sep="\n")
    pages = len(list(root.rglob("*.html")))
    print(f"{pages} pages checked, {len(problems)} remote scripts or stylesheets")
    sys.exit(1 if problems or pages == 0 else 0)
