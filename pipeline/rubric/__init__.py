"""Rubrics: the file format, the detectors, and their evaluation on a call."""
