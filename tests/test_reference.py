"""tests/reference.py: the shared reference files are found through COC_REFERENCE_DIR first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reference import ENV_REFERENCE_DIR, SIBLING_REFERENCE_DIR, reference_dir


def test_the_env_var_wins_when_it_holds_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "openapi.json").write_text("{}")
    monkeypatch.setenv(ENV_REFERENCE_DIR, str(tmp_path))
    assert reference_dir() == tmp_path


def test_a_dir_without_the_files_falls_back_to_the_sibling_or_names_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_REFERENCE_DIR, str(tmp_path))
    if (SIBLING_REFERENCE_DIR / "openapi.json").is_file():
        assert reference_dir() == SIBLING_REFERENCE_DIR
    else:
        with pytest.raises(FileNotFoundError) as excinfo:
            reference_dir()
        assert str(tmp_path) in str(excinfo.value) and str(SIBLING_REFERENCE_DIR) in str(excinfo.value)
