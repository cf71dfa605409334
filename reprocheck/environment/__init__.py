"""The environment fingerprint: everything about this process that can move training numbers.

Example::

    import reprocheck
    fp = reprocheck.fingerprint()
    fp.torch["version"], fp.cpu["capability"], fp.threads["intra_op"], fp.digest

Importing this package does not import torch; capturing does.
"""

from __future__ import annotations

from reprocheck.environment.capture import fingerprint
from reprocheck.environment.model import Fingerprint, compute_digest
from reprocheck.environment.render import render_text

__all__ = ["Fingerprint", "compute_digest", "fingerprint", "render_text"]
