"""Quarantine for unstable upstream APIs (torch versions, private torch modules).

Everything that branches on the torch version, or touches a private torch API, lives in
:mod:`reprocheck._compat.torch` and nowhere else.
"""
