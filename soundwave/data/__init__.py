"""Kaldi data directories and audio I/O.

``kaldi`` holds the data-dir model (:class:`~soundwave.data.kaldi.DataDir`), ``validate``
and ``fix`` check and repair a directory, ``ops`` splits, subsets, combines and copies,
``audio`` reads ``wav.scp`` entries and ``lhotse_io`` bridges to lhotse manifests.
Import the submodules directly: this package stays light so that the data-dir tools
start fast.
"""
