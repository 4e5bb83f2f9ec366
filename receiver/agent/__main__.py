"""`python -m receiver.agent`: the heartbeat sidecar with nothing but the standard library.

The same flags and exit codes as `receiver heartbeat`, for images that carry
only this package and not the receiver's server dependencies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from receiver.agent import sidecar


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m receiver.agent",
        description="Check this pod's app and push its health to the remediation receiver.",
    )
    sidecar.add_arguments(parser)
    return sidecar.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
