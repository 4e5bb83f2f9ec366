"""The Dockerfile builds the package as a non-root image the chart can run.

No container engine runs in CI, so the Dockerfile is read, not built: the
base image, the numeric non-root user the chart's securityContext expects,
the entrypoint the chart's args follow, and a build context (.dockerignore)
that holds what `pip install .` needs and nothing else.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib

import pytest

from .render import REPO, render

DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)
    found = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_every_stage_is_python_312_slim() -> None:
    bases = [rest.split()[0] for keyword, rest in _instructions() if keyword == "FROM"]
    assert bases
    assert all(base == "python:3.12-slim" for base in bases)


def test_it_installs_the_package() -> None:
    runs = [rest for keyword, rest in _instructions() if keyword == "RUN"]
    assert any(re.search(r"\bpip install \.(\s|$)", run) for run in runs)


def test_it_runs_as_the_numeric_non_root_user_the_chart_expects() -> None:
    users = [rest for keyword, rest in _final_stage() if keyword == "USER"]
    assert users, "the final stage has no USER: it would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit()
    assert int(user) != 0
    assert group.isdigit()
    assert int(group) != 0
    context = render().container["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (int(user), int(group))


def test_entrypoint_is_the_receiver_command() -> None:
    stage = dict(_final_stage())
    assert json.loads(stage["ENTRYPOINT"]) == ["receiver"]
    assert isinstance(json.loads(stage["CMD"]), list)
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "receiver" in project["scripts"]
    # The chart passes arguments only; the image's entrypoint supplies `receiver`.
    assert render().container["args"][0] == "serve"


def test_no_bytecode_writes_on_a_read_only_filesystem() -> None:
    env = " ".join(rest for keyword, rest in _final_stage() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env


def _in_context(path: str) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent decides."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatchcase(prefix, glob) for prefix in prefixes):
            included = negated
    return included


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "README.md",
        "receiver/cli.py",
        "receiver/runbook/runbook.schema.json",
        "receiver/service/templates/console.html",
        "receiver/demo/runbook.yaml",
    ],
)
def test_the_build_context_has_what_pip_install_needs(path: str) -> None:
    assert (REPO / path).is_file()
    assert _in_context(path)


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        "tests/conftest.py",
        "receiver/__pycache__/cli.cpython-312.pyc",
        "charts/remediation-receiver/values.yaml",
    ],
)
def test_the_build_context_leaves_the_rest_out(path: str) -> None:
    assert not _in_context(path)


def test_copied_sources_exist() -> None:
    for keyword, rest in _instructions():
        if keyword == "COPY" and "--from=" not in rest:
            *sources, _ = rest.split()
            for source in sources:
                assert (REPO / source).exists(), source
                assert _in_context(source), f"{source} is excluded by .dockerignore"
