"""When the real-server tier may skip: only for a non-root user outside CI. As root (CI runs as
root) or with CI set, missing binaries fail the run instead of hiding it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import require_binaries


@pytest.mark.parametrize(
    ("uid", "ci", "outcome"),
    [
        (1000, "", pytest.skip.Exception),
        (1000, "true", pytest.fail.Exception),
        (0, "", pytest.fail.Exception),
    ],
    ids=["user-skips", "ci-fails", "root-fails"],
)
def test_missing_binaries_skip_only_for_a_user_outside_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, uid: int, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("KUBE_BIN_DIR", str(tmp_path))  # nothing built there
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    with pytest.raises(outcome, match="make kube-apiserver"):
        require_binaries()
