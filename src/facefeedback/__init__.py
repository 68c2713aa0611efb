"""facefeedback: measure frowning in participant videos and test the facial-feedback hypothesis.

The per-frame measurement runs ``io`` -> ``landmarks`` -> ``geometry`` -> ``components`` -> ``qc``;
``summary`` turns a recording's table into events and features; ``study`` runs a whole study;
``analysis`` and ``report`` relate the change in frowning to the change in mood.
Nothing heavy is imported here: import the stage you need.
"""

__version__ = "0.6.7"
