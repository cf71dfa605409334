"""Every file reprocheck reads or writes: runs, tensor sets, fingerprint files, safetensors.

The one owner of the formats: layout, schema version, validation on read, atomic writes.
Readers are hardened (a corrupt or hostile file is an ArtifactError, never a traceback)
and never unpickle.
"""
