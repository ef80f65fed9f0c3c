"""One run: the stack or target driven with load, its samples turned into a result."""
