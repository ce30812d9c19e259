"""Data for the lessons: small synthetic sets you can see in one plot."""

from .toy import make_blobs, make_moons

__all__ = ["make_moons", "make_blobs"]
