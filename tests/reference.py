"""Where the shared Discourse reference files (openapi.json, webhook samples, FACTS.md) live."""

from __future__ import annotations

import os
from pathlib import Path

ENV_REFERENCE_DIR = "COC_REFERENCE_DIR"
"""Environment variable naming the reference directory; checked first."""

REPO_ROOT = Path(__file__).resolve().parent.parent
SIBLING_REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference" / "discourse"
"""Where CI puts it: `shared/` cloned beside the repository."""

MARKER = "openapi.json"
"""A file every reference directory holds; a directory without it is not the one."""


def reference_dir() -> Path:
    """The reference directory: `$COC_REFERENCE_DIR` if it holds the files, else `<repo>/../shared/reference/discourse`.

    Raises FileNotFoundError naming both places if neither holds them.
    """
    configured = os.environ.get(ENV_REFERENCE_DIR, "").strip()
    candidates = [Path(configured)] if configured else []
    candidates.append(SIBLING_REFERENCE_DIR)
    for candidate in candidates:
        if (candidate / MARKER).is_file():
            return candidate
    from_env = f"{ENV_REFERENCE_DIR}={configured}" if configured else f"{ENV_REFERENCE_DIR} (not set)"
    raise FileNotFoundError(
        f"Discourse reference files ({MARKER} …) not found. Looked in: {from_env}; {SIBLING_REFERENCE_DIR}. "
        f"Set {ENV_REFERENCE_DIR} or clone shared/ beside the repository."
    )
