"""The study pipeline: a lab's recordings, design and scores in; session features out.

* :mod:`.spec` the study file's model (:class:`~.spec.StudySpec`);
* :mod:`.manifest` reads the study file and its tables and checks them before any work
  (the tables' rows: :mod:`.table_checks`);
* :mod:`.cache` keys raw measurements and recording outputs by content and config hash;
* :mod:`.parallel` runs per-recording tasks on local processes or a Dask cluster;
* :mod:`.pipeline` wires them: measure (:mod:`.measure_task`, one recording per worker),
  calibrate per participant, write recordings;
* :mod:`.features` and :mod:`.codebook` build the session tables and their documentation;
* :mod:`.statfiles` exports them as .sav and .dta (:mod:`.statformats`: limits, codes, names);
* :mod:`.openface` exports per-frame tables with OpenFace's column names;
* :mod:`.simulated` writes a simulated study (:mod:`facefeedback.synthetic.studies`) in this layout.

Nothing heavy is imported here; import the submodules.
"""
