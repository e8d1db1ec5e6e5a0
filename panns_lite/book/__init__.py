"""The book's helpers: figures (:mod:`panns_lite.book.plots`) and what a page shows besides them —
audio players, slider explorers, results tables (:mod:`panns_lite.book.display`) — and the scripts
of the in-browser tagger page (:mod:`panns_lite.book.web_demo`).

They need the ``[book]`` extra (matplotlib, pandas, ipywidgets); nothing outside the book and its
tests imports them, so ``pip install panns-lite`` tags, trains and embeds without it.
"""
