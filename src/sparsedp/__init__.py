"""Data parallelism in training sparse neural networks (Lee, Torr & Jaggi), reproduced.

Parse-time modules (config, search, paths) import no torch; the training side does.
"""

__version__ = "0.2.0"  # pyproject.toml reads it; the report shows it; CHANGELOG.md says what changed
