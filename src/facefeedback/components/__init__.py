"""The facial components: one registry, one module per job.

``registry``
    Every component (name, muscle, action unit, unit, direction, defaults, how it is measured,
    its text) and the families whose intensity combines them (frown, smile). Imports nothing
    from the package, so the settings and the schema derive from it.
``brows``
    ``brow_gap`` (the brow heads' picture tracked through a recording) and ``brow_lowering``.
``glabella``
    ``glabella_lines``: the glabellar lines' texture energy, clipping and sensor noise.
``tone``
    A recording's tone reference, which ``glabella_lines`` is divided by.
``patches``
    Face regions resampled from the image into reference units; the frontal anchor.
``smile``
    ``lip_corner_pull`` and ``cheek_raise``.
``intensity``
    A family's components combined against a neutral reference into its intensity.
"""
