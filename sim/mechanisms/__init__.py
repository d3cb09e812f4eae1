"""The mechanisms, one module each: cooperation, suppliers, facilities, market, demography.

Each is a small function of (state, params, rng or stream key) over the core's arrays, with its
kernels; it imports only :mod:`sim.core`.
"""
