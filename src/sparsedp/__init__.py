"""Data parallelism in training sparse neural networks (Lee, Torr & Jaggi), reproduced.

Parse-time modules (config, search, paths) import no torch; the training side does.
"""
