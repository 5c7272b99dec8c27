"""Pictures for experiment dirs: training curves (``curves``) and the CTC alignment and
frame selection of one utterance (``alignment``).  Figures are built with matplotlib's
object API on the Agg canvas (no display, no pyplot global state) and saved atomically
(``figure.save_png``)."""
