"""reprocheck inside other tools: the pytest plugin and the nox sessions of the matrix."""
