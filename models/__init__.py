"""Adapters to real models: faster-whisper ASR, spaCy text analysis, the weights bundle.

Each adapter implements a protocol from :mod:`pipeline.protocols` and converts the
library's results into :mod:`pipeline.types` records; nothing else imports the libraries.
"""
