# The cffi extension built by _cryptodev_build.py; cffi objects are untyped.
from typing import Any

ffi: Any
lib: Any
