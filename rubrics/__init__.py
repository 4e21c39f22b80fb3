"""The rubrics and data files earmark ships: YAML and JSON, no code.

A package only so that they install with earmark and :mod:`importlib.resources` finds
them (see :mod:`pipeline.rubric.shipped`); edit the files, not this.
"""
