"""Models of change in frowning vs change in mood, simulation with known truth, and power.

Submodules are imported on use so that ``import facefeedback.analysis`` stays light:

* :mod:`~facefeedback.analysis.data` reads a study and shapes the per-participant table;
* :mod:`~facefeedback.analysis.models` primary model and arm comparisons;
* :mod:`~facefeedback.analysis.mediation`, :mod:`~facefeedback.analysis.responders`,
  :mod:`~facefeedback.analysis.predictive`, :mod:`~facefeedback.analysis.mixed`;
* :mod:`~facefeedback.analysis.run` the orchestrating :func:`run_analysis`;
* :mod:`~facefeedback.analysis.simulate` and :mod:`~facefeedback.analysis.power`.
"""
