"""Stands in for numpy in `arrays::a_child_without_numpy_fails_at_spawn`: importing it fails."""

raise ImportError("numpy is hidden from this child by the test")
