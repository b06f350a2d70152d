# SPDX-License-Identifier: MIT
"""Fixtures: unique segment names, removed after each test; the binaries."""
import itertools
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package of this tree, not an installed one

import pshm  # noqa: E402

ROOT = HERE.parent.parent
BUILD = Path(os.environ.get("PSHM_BUILD", ROOT / "build"))
PSHM_BIN = BUILD / "bin" / "pshm"
EXAMPLES = BUILD / "examples"

_count = itertools.count()


@pytest.fixture
def name(request):
    """A fresh segment name (pid + counter); whatever it names is removed after."""
    made = []

    def make():
        n = f"pshm-py-{os.getpid()}-{next(_count)}"
        made.append(n)
        return n

    n = make()
    request.node.more_names = make
    yield n
    for m in made:
        try:
            pshm.unlink(m)
        except FileNotFoundError:
            pass


@pytest.fixture
def names(name, request):
    """A function that returns more fresh names, cleaned up like `name`."""
    return request.node.more_names


def need(path: Path) -> str:
    if not path.exists():
        pytest.skip(f"{path} is not built (run make)")
    return str(path)


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return env
