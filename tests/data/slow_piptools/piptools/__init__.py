"""A stand-in for pip-tools that resolves slowly and silently (tests of `reprocheck lock`)."""
