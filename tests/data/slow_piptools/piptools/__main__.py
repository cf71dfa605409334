"""``python -m piptools compile ... --output-file OUT SRC``: sleep, say nothing, write OUT.

The sleep comes from ``SLOW_PIPTOOLS_SECONDS`` (default 22): longer than two of
reprocheck's heartbeat intervals, so a silent lock would show as a long gap.
"""

import os
import sys
import time

args = sys.argv[1:]
out = args[args.index("--output-file") + 1]
time.sleep(float(os.environ.get("SLOW_PIPTOOLS_SECONDS", "22")))
with open(out, "w", encoding="utf-8") as handle:
    handle.write("click==8.1.7 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via -r in\n")
