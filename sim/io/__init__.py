"""Input and output: reading user files safely, scenario files, result folders and provenance."""
