"""The mechanisms, one module each: cooperation, suppliers, facilities, market, demography, and
the population (births and deaths of firms).

Each is a small function of (state, params, rng or stream key) over the core's arrays, with its
kernels; it imports :mod:`sim.core` and sibling mechanisms (the population creates firms
through demography's placement and entry draws and cooperation's tie table).
"""
