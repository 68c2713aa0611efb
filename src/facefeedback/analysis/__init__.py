"""Models of change in frowning vs change in mood, and power.

Submodules are imported on use so that ``import facefeedback.analysis`` stays light:

* :mod:`~facefeedback.analysis.study_features` reads a study's session features
  (:func:`~facefeedback.analysis.study_features.load_study_features`), the analysis input;
* :mod:`~facefeedback.analysis.data` shapes them into the per-participant table the models use;
* :mod:`~facefeedback.analysis.results` the typed results the report reads;
* :mod:`~facefeedback.analysis.models` primary model and arm comparisons;
* :mod:`~facefeedback.analysis.mediation`, :mod:`~facefeedback.analysis.responders`,
  :mod:`~facefeedback.analysis.predictive`, :mod:`~facefeedback.analysis.mixed`;
* :mod:`~facefeedback.analysis.registry` the models an analysis fits, one registration each;
* :mod:`~facefeedback.analysis.analyze` the orchestrating :func:`run_analysis`;
* :mod:`~facefeedback.analysis.power` power by simulation (studies from
  :mod:`facefeedback.synthetic.studies`).

Nothing here imports the study pipeline or the report: the ``analyze`` command hands the
results to the report.
"""
