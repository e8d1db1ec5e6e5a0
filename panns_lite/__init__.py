"""panns-lite: PANNs and E-PANNs, reproduced end to end.

The package holds the logic; the book's notebooks tell the story and call it. Modules are
named after the concept they implement (``audioset``, ``audio``, ``miniset``, ``packing`` …)
and are imported explicitly, so ``import panns_lite`` stays cheap.
"""

__version__ = "0.1.0"
