"""The demo conductors: real ``cryptochat`` processes driven through a script (not part of the package)."""
