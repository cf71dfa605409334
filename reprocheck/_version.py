"""The one place that states reprocheck's version."""

__version__ = "0.1.0"
