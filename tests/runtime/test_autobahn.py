"""Autobahn WebSocket conformance cases (via ``kosoku``) against ``/echo``.

Compression cases (12.*, 13.*) are excluded: the runtime does not negotiate permessage-deflate
and they take ~10 minutes. Every other case must be OK, NON-STRICT or INFORMATIONAL.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.runtime.conftest import UNIT
from tests.runtime.serve_process import ServeProcess

KOSOKU = shutil.which("kosoku") or str(Path(__file__).resolve().parents[2] / ".venv/bin/kosoku")
ACCEPTABLE = {"OK", "NON-STRICT", "INFORMATIONAL"}


@pytest.mark.slow
@pytest.mark.skipif(
    not Path(KOSOKU).exists(), reason="kosoku is not installed (pip install kosoku)"
)
def test_autobahn_cases_pass_against_echo(tmp_path: Path) -> None:
    # The suite's largest messages are 16 MiB (cases 9.*), exactly the limit set here.
    server = ServeProcess(
        tmp_path / "serve.log", "--quiet", "--echo", "--max-message-bytes", str(16 * 1024 * 1024)
    )
    url = f"ws://127.0.0.1:{server.start()}/echo"
    try:
        subprocess.run(
            [KOSOKU, "-x", "12.*", "-x", "13.*", "-o", str(tmp_path / "report"), url],
            capture_output=True,
            timeout=300 * UNIT,
            check=False,  # the verdicts are read from the report below
        )
    finally:
        server.stop()
    index = json.loads((tmp_path / "report" / "index.json").read_text())
    (cases,) = index.values()
    assert len(cases) > 250  # the whole non-compression suite ran
    bad = {
        case: (result["behavior"], result["behaviorClose"])
        for case, result in cases.items()
        if result["behavior"] not in ACCEPTABLE or result["behaviorClose"] not in ACCEPTABLE
    }
    assert bad == {}
    # the case plain aiohttp fails: a reserved close code (1004) must be answered with 1002
    assert cases["7.9.5"]["remoteCloseCode"] == 1002
