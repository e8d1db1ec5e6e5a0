"""panns-lite: PANNs and E-PANNs, reproduced end to end.

The package holds the logic; the book's notebooks tell the story and call it. Modules are
named after the concept they implement (``audioset``, ``audio``, ``miniset``, ``packing`` …)
and are imported explicitly, so ``import panns_lite`` stays cheap.
"""

__version__ = "0.1.0"


def pretrained():  # noqa: ANN201 (the type lives in panns_lite.models, imported only when called)
    """The tagger trained here and shipped in ``data/models`` (:func:`panns_lite.pretraining.pretrained`)."""
    from panns_lite.pretraining import pretrained as load

    return load()
