"""The replay engine: seeding, the training loop, recording and operator tracing."""
