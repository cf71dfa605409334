"""Record types and format constants shared by the code that produces and the code that reads.

Nothing here captures, replays, compares or touches a file: :mod:`.records` is what a
replay recorded, :mod:`.fingerprint` what an environment is, :mod:`.digest` how a tensor's
bytes are digested, :mod:`.formats` the constants of every file format.
"""
