"""``script/bench --soak --days N``: the soak test (``tests/test_soak.py``) for N days.

The soak needs Home Assistant's test harness (real HA, a frozen clock moved slot by slot), so it
runs that test in a pytest subprocess whose output goes to stderr, with the days, the first day
and the data in the environment; the test writes its report, and this prints it as one JSON
object on stdout. The shared year (``/work/shared/data``) is used when present, else the
committed 10-day May slice (``tests/fixtures/sim``, at most 8 days from 2024-05-06).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path("/work/shared/data")
# 30 days from here cross the spring DST change (2024-03-31, a 23-hour day in Berlin)
DEFAULT_START_SHARED = "2024-03-15"
DEFAULT_START_FIXTURE = "2024-05-06"


def run(days: int, start: str | None = None, data: str | None = None) -> tuple[dict[str, Any], int]:
    """Run the soak; its report (``{"error": ...}`` when it wrote none) and pytest's exit code."""
    source = data or ("shared" if SHARED_DATA.is_dir() else "fixture")
    first = start or (DEFAULT_START_SHARED if source == "shared" else DEFAULT_START_FIXTURE)
    with tempfile.TemporaryDirectory(prefix="smartload-soak-") as tmp:
        report = Path(tmp) / "soak.json"
        env = os.environ | {
            "SMARTLOAD_SOAK_DAYS": str(days),
            "SMARTLOAD_SOAK_START": first,
            "SMARTLOAD_SOAK_DATA": source,
            "SMARTLOAD_SOAK_REPORT": str(report),
        }
        done = subprocess.run(
            # records below WARNING are not kept by pytest's log capture: they would be its memory
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/test_soak.py::test_soak",
                "-q",
                "-x",
                "--log-level=WARNING",
                "--show-capture=no",
            ],
            cwd=ROOT,
            env=env,
            stdout=sys.stderr,
            check=False,
        )
        if not report.exists():
            return {
                "days": days,
                "error": f"the soak test wrote no report (exit {done.returncode})",
            }, (done.returncode or 1)
        result = json.loads(report.read_text())
    return result | {"start": first, "data": source}, done.returncode
