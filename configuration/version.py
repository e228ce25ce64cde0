"""The one place the version is written: `--version` and the package metadata both read it."""

__version__ = "1.4.0.dev0"
