"""Synthetic data with known truth, in one place.

* :mod:`.faces`: landmark faces drawn as images, with a frown of known amplitude (and clips of them);
* :mod:`.frames`: per-frame series of simulated recordings, summarised by the pipeline's own
  :func:`facefeedback.summary.summarise`;
* :mod:`.studies`: whole studies (participants, visits, scores, frowning) from a generative model
  with known effects, for ``facefeedback simulate`` and ``facefeedback power``;
* :mod:`.mediators`: two parallel mediators (frown, smile) with known indirect effects and a
  baseline imbalance, for the specificity model;
* :mod:`.example_study`: the small example study of rendered clips that ``make demo`` runs.

Nothing heavy is imported here; import the submodules.
"""
