"""`.env.example` lists every setting the service reads, with its default and one line of meaning, and nothing else;
and every environment variable the service's code names is in the registry it is made from (plugin/config.py)."""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from dotenv import dotenv_values

from plugin.config import DEVELOPMENT, KNOWN, REGISTRY, Settings, env_example

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / ".env.example"
SOURCES = ("plugin", "worker", "webhooks")
SYSTEM_NAMES = frozenset({"PATH"})
"""Variables the code reads that belong to the operating system, not to the service."""

NAMED = re.compile(r"(?<![A-Za-z0-9_])((?:COC|DISCOURSE|REDIS)_[A-Z0-9_]*[A-Z0-9])(?![A-Za-z0-9_])")
READ = re.compile(r"""(?:environ\.get|environ\[|getenv|env\.get|env\[)\(?\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")


def example() -> dict[str, str | None]:
    return dotenv_values(EXAMPLE)


def test_the_file_is_what_the_registry_makes() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == env_example(), "regenerate: python -m plugin.config > .env.example"


def test_every_setting_is_there_with_its_default_and_nothing_else() -> None:
    values = example()
    assert set(values) == KNOWN
    for variable in REGISTRY:
        assert values[variable.name] == variable.default, variable.name
        assert variable.meaning.strip() and "\n" not in variable.meaning


def test_the_example_read_as_settings_gives_the_defaults() -> None:
    values = {name: value or "" for name, value in example().items()}
    assert Settings.from_env(values, dotenv=False) == Settings()


def test_every_settings_field_has_one_variable() -> None:
    named = [variable.field for variable in REGISTRY if variable.field]
    assert sorted(named) == sorted(f.name for f in fields(Settings))
    assert len(KNOWN) == len(REGISTRY)


def test_every_variable_the_code_names_or_reads_is_known() -> None:
    named: dict[str, str] = {}
    read: dict[str, str] = {}
    for root in SOURCES:
        for path in sorted((ROOT / root).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            where = str(path.relative_to(ROOT))
            named.update({name: where for name in NAMED.findall(text)})
            read.update({name: where for name in READ.findall(text)})
    assert "COC_EMBEDDED_REDIS" in named and "PATH" in read   # the scan sees what it must
    unknown = {name: where for name, where in named.items()
               if name not in KNOWN and not (name in DEVELOPMENT and where == "plugin/config.py")}
    assert not unknown, f"add these to plugin/config.py's REGISTRY: {unknown}"
    unread = {name: where for name, where in read.items() if name not in KNOWN | SYSTEM_NAMES}
    assert not unread, f"add these to plugin/config.py's REGISTRY: {unread}"
