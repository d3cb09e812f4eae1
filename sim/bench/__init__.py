"""Benchmarks of the model, its kernels and the sweep layer (``clustersim bench``)."""
