"""Print parliament's findings on an IAM policy file as JSON lines (run with the validators' Python).

parliament's CLI wants a terminal on stdin, so the tests call its Python API through this script in
the validators' own environment (it also leaves files open at import, which the tests' warnings-as-errors
would refuse in-process).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from parliament import analyze_policy_string


def main(path: str) -> int:
    policy = analyze_policy_string(Path(path).read_text(encoding="utf-8"))
    for finding in policy.findings:
        print(json.dumps({"issue": finding.issue, "severity": finding.severity, "detail": str(finding.detail)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
