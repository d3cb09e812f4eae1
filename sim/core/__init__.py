"""The core: parameters, state arrays, the world, random streams and the numba plumbing.

The bottom layer: it imports nothing else from :mod:`sim`.
"""
