"""Only for the cffi extension; everything else is in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["cryptochat/engines/_cryptodev_build.py:ffi"])
