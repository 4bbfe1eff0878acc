"""Assessor: a cited pre-reading of certification dossiers for French juries.

The jury decides, never the tool.
"""

__version__ = "0.1.0"
