"""Build the probe's Lambda layer zip from its wheel: ``python probe/build_layer.py dist``.

Lambda adds a layer's ``python/`` folder to ``sys.path``, so the zip holds ``python/inferwatch_probe/...``.
numpy is not bundled: the function already ships it with onnxruntime (which requires it), and a second
copy in a layer would shadow the function's own, whose version onnxruntime was installed against, and add
~20 MB to the 250 MB unzipped limit. The zip is reproducible: sorted entries, a fixed timestamp.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

LAYER_NAME = "inferwatch-probe-layer.zip"
_FIXED_TIME = (2026, 1, 1, 0, 0, 0)


def build_layer(dist: Path) -> Path:
    wheels = sorted(dist.glob("inferwatch_probe-*-py3-none-any.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one inferwatch_probe wheel in {dist}, found {[w.name for w in wheels]}")
    target = dist / LAYER_NAME
    with zipfile.ZipFile(wheels[0]) as wheel, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as layer:
        for name in sorted(n for n in wheel.namelist() if n.startswith("inferwatch_probe/")):
            info = zipfile.ZipInfo(f"python/{name}", date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            layer.writestr(info, wheel.read(name))
    return target


if __name__ == "__main__":
    print(build_layer(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")))
