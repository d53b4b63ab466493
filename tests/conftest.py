"""Shared pytest fixtures: where the built programs are."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / os.environ.get("SCST_BUILD", "build")


@pytest.fixture(scope="session")
def bins():
    """Paths of the built programs; fails (never skips) if the build is missing."""
    paths = {name: BUILD / "bin" / name for name in ("scstsim", "scstd", "scstctl")}
    for name, path in paths.items():
        assert path.exists(), f"{path} is missing: run make first"
    return paths
