"""bandit finds nothing of medium severity or above in the project's code."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.hostile


def test_bandit_medium_and_above_is_clean():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bandit",
            "-q",
            "-r",
            "api",
            "config",
            "crisis",
            "incidents",
            "integrations",
            "playbooks",
            "-ll",
            "-x",
            "*/migrations/*",
            "-f",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    findings = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]
    ]
    assert findings == []
