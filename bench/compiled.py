"""The receiver's hot path compiled with mypyc, in a scratch copy, to measure what it would gain.

    .venv/bin/python bench/compiled.py /tmp/receiver-compiled           # ~1 min
    PYTHONPATH=/tmp/receiver-compiled .venv/bin/python bench/instructions.py --requests 200
    PYTHONPATH=/tmp/receiver-compiled .venv/bin/python bench/run.py --only alerts_repeat

The receiver ships as plain Python; nothing here changes that. The copy holds
`receiver/` with C extensions beside the modules below; with the copy first on
PYTHONPATH, the servers the bench starts import them instead of the checkout.

Left out, each for a reason found by running the test suite against a copy:
`service/app.py` (Starlette tells an endpoint from an ASGI app with
`inspect.isfunction`, which a compiled function is not: every request fails),
`act/notify.py` (tests subclass `Notifications`, and an interpreted class
cannot inherit from a compiled one), and the in-memory cluster (production
runs the Kubernetes adapter; tests replace its methods on instances, which
compiled classes refuse).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = (
    "receiver/decide/",
    "receiver/model/",
    "receiver/ingest/",
    "receiver/act/apply.py",
    "receiver/report/decisions.py",
    "receiver/report/metrics.py",
    "receiver/report/logs.py",
    "receiver/cluster/codec.py",
    "receiver/service/pipeline.py",
    "receiver/service/auth.py",
    "receiver/runbook/types.py",
    "receiver/runbook/quantities.py",
)


def compile_into(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "receiver", dest / "receiver", ignore=skip)
    # In a directory without pyproject.toml: mypyc builds through setuptools, and the
    # venv's setuptools refuses the project's `license` field.
    subprocess.run([sys.executable, "-m", "mypyc", *MODULES], cwd=dest, check=True)
    shutil.rmtree(dest / "build")
    probe = "import receiver.decide.engine as m; print(m.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=dest, env={"PYTHONPATH": str(dest)}, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    if not where.endswith(".so"):
        raise SystemExit(f"the compiled modules are not the ones imported: {where}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dest", type=Path, help="directory to create (replaced if it exists)")
    args = p.parse_args(argv)
    compile_into(args.dest.resolve())
    print(f"compiled; measure with PYTHONPATH={args.dest.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
