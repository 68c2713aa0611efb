"""The registry of facial components: one entry per component, grouped in families.

Every place that lists components derives the list from here: the per-frame raw fields and
columns (:mod:`facefeedback.schema`), the neutral reference and the config sections (weights,
full change, population neutral; :mod:`facefeedback.config`), the combination into a family's
intensity (:mod:`.intensity`), the codebook, and the synthetic per-frame generator. Adding a
component is one module that measures it plus one :class:`Component` entry below
(docs/developing.md, "Adding a component").

This module imports nothing from the package, so the config can be built from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    """One facial component: what it measures, in which unit, and how it enters its family's intensity.

    ``direction`` is +1 when the value grows with the expression, -1 when it shrinks. ``change``
    says how a frame's value is compared with the neutral: ``"relative"`` ((value - neutral) /
    neutral) or ``"log_ratio"`` (ln(value / neutral)); times ``direction``, clipped at 0 and divided
    by ``full_change`` (that change in a typical full expression) it is the component's term, in
    the family's unit. ``measured_from`` is ``"landmarks"`` (the landmarks aligned to the frontal
    reference) or ``"image"`` (the picture, resampled through the alignment). ``measure`` names the
    function that measures it (``module:function`` in :mod:`facefeedback.components`).
    """

    name: str
    family: str
    muscle: str
    action_unit: str
    unit: str
    direction: int
    change: str
    neutral: float
    full_change: float
    weight: float
    measured_from: str
    measure: str
    doc: str
    #: |yaw| (deg) over which the component's weight falls from full to 0 (None: it keeps its weight).
    yaw_fade_deg: tuple[float, float] | None = None
    #: Further raw per-frame fields its measurement keeps (before the per-recording step).
    extra_raw: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    """Components whose weighted terms combine into one intensity (0 at the neutral, 1 = typical full)."""

    name: str
    intensity: str  # the per-frame column, e.g. frown_intensity
    unit: str  # FU, SU
    unit_name: str
    active: str  # the per-frame flag inside an event, e.g. frowning
    full_key: str  # the config key of the full changes, e.g. full_frown
    full_meaning: str  # what 1 unit is
    components: tuple[Component, ...]
    #: How the participant's neutral follows head pose (:func:`facefeedback.neutral_pose.fit_pose_model`):
    #: ``"one_sided"``, each component on its own, pose only ever making the relaxed face look *more*
    #: like the expression; ``"others_at_rest"``, each component on the frames where the family's
    #: other components are at rest, either way.
    pose_fit: str = "one_sided"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components)


FROWN = Family(
    "frown", "frown_intensity", "FU", "frown units", "frowning", "full_frown", "a typical full deliberate frown", (
        Component(
            "brow_gap", "frown", "corrugator supercilii", "AU4", "IOD", -1, "relative", 0.433, 0.12, 0.15,
            "image", "brows:BrowTracker",
            "distance between the medial brow ends / inter-ocular distance (corrugator; smaller = drawn together)",
            yaw_fade_deg=(10.0, 15.0)),
        Component(
            "brow_lowering", "frown", "procerus, depressor supercilii", "AU4", "IOD", -1, "relative", 0.310, 0.30,
            0.25, "landmarks", "brows:brow_lowering",
            "height of the medial brows above the inner eye corners / inter-ocular distance "
            "(procerus, depressor supercilii; smaller = lowered)"),
        Component(
            "glabella_lines", "frown", "procerus, corrugator (skin)", "AU4", "ratio", +1, "log_ratio", 0.295, 0.9,
            0.6, "image", "glabella:GlabellaFilter",
            "oriented ridge energy of vertical/oblique lines between the brows, on log intensity, over the "
            "recording's tone_reference (higher = more lines)",
            extra_raw=("glabella_energy", "tone_sample", "tone_clipped")),
    ))

SMILE = Family(
    "smile", "smile_intensity", "SU", "smile units", "smiling", "full_smile", "a typical full smile", (
        Component(
            "lip_corner_pull", "smile", "zygomaticus major", "AU12", "IOD", +1, "relative", 0.806, 0.22, 0.8,
            "landmarks", "smile:lip_corner_pull",
            "distance between the mouth corners / the geometric mean of the inter-ocular distance and the outer "
            "eye corners' width (zygomaticus major; larger = corners pulled out)"),
        Component(
            "cheek_raise", "smile", "orbicularis oculi, pars orbitalis", "AU6", "IOD", +1, "relative", 0.139, 0.10,
            0.2, "landmarks", "smile:cheek_raise",
            "height of the upper cheeks (under the eyes, on the cheekbones) above the nose tip / inter-ocular "
            "distance (orbicularis oculi; larger = cheeks raised)"),
    ), pose_fit="others_at_rest")

#: Every family, in the order their columns and features are listed.
FAMILIES: tuple[Family, ...] = (FROWN, SMILE)
#: Every component, by name.
REGISTRY: dict[str, Component] = {c.name: c for f in FAMILIES for c in f.components}


def measure_function(component: Component):
    """The function (or, for an image component, the per-recording class) that measures ``component``."""
    from importlib import import_module

    module, name = component.measure.split(":")
    return getattr(import_module(f"{__package__}.{module}"), name)


def family(name: str) -> Family:
    """The family called ``name`` (``frown``, ``smile``)."""
    for f in FAMILIES:
        if f.name == name:
            return f
    raise KeyError(f"no component family {name!r}; known: {', '.join(f.name for f in FAMILIES)}")
