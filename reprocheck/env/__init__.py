"""The environment fingerprint: everything about this process that can move training numbers.

Example::

    import reprocheck
    fp = reprocheck.fingerprint()
    fp.torch["version"], fp.cpu["capability"], fp.threads["intra_op"], fp.digest

Importing this package does not import torch; capturing does.
"""

from __future__ import annotations

from reprocheck.env.capture import fingerprint
from reprocheck.model.fingerprint import Fingerprint

__all__ = ["Fingerprint", "fingerprint"]
