"""Measurement: pure metrics of a firm population, the recorder of a run and the declared
outputs."""
