"""One registry of fusions: the names ``build_model`` and the CLI's ``--fusion`` accept.

Adding a fusion to the classifier the CLI trains is one line, next to the fusion's class
(in its own module), e.g.::

    register_fusion("gated", lambda width, seed, **_: GatedFusion(width, seed=seed),
                    description="gated multimodal unit (Arevalo et al. 2017)")

``build_model`` then builds it (one branch per modality, the fusion, the document's
head), ``python -m mmscratch train --fusion gated`` offers it, and
``multimodal.FUSIONS`` lists it. Nothing else needs editing (docs/ARCHITECTURE.md).

A builder is called with keyword arguments only: ``width`` (the branch output width d),
``seed``, ``num_classes`` and ``modalities`` (a tuple of names); it takes what it needs
and ignores the rest (``**_``) and returns a :class:`FusionLayer`.

A fusion that fuses only some numbers or kinds of modalities (cross-modal attention:
exactly image and audio; MulT: two or more) registers a ``check(modalities,
input_shapes)`` that raises ``ValueError`` naming the argument, what the fusion needs and
what it got; ``build_model`` calls it before building anything, so a wrong choice is one
clear error (one ``error:`` line in the CLI) instead of a crash deep in a layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["FusionSpec", "register_fusion", "get_fusion", "FUSIONS", "FUSION_REGISTRY"]


@dataclass(frozen=True)
class FusionSpec:
    """How :func:`mmscratch.multimodal.build_model` uses a registered fusion.

    Attributes
    ----------
    name : str
        The ``fusion=`` / ``--fusion`` value.
    build : callable
        ``build(width=..., seed=..., num_classes=..., modalities=...) -> FusionLayer``.
    head : bool
        True: the fused vector goes through the document's head (Dense 128, Dropout 0.5,
        Dense classes). False: every branch ends in its own class scores (Dropout 0.3,
        Dense classes) and the fusion combines those (late fusion); no head.
    max_width : int or None
        Cap on the branch width (tensor fusion's output grows as the product of the
        widths, so it caps them at 16).
    branch : callable or None
        ``branch(modality, shape, width, seed) -> list of layers`` replacing the default
        branch (e.g. token branches for cross-modal attention); None keeps the default.
    description : str
        One line for ``--help`` and the docs (including what the fusion needs).
    check : callable or None
        ``check(modalities, input_shapes)`` raising ``ValueError`` when the fusion cannot
        fuse these modalities (wrong number or kind); None: any modalities.
    """

    name: str
    build: Callable
    head: bool = True
    max_width: int | None = None
    branch: Callable | None = None
    description: str = ""
    check: Callable | None = None


#: What one sample of each modality is (without the batch axis N): its rank, the form of
#: its shape and its kind. Branches, fusions' checks and their messages read it here.
MODALITY_SAMPLES = {"image": (3, "(H, W, C)", "an image"),
                    "audio": (2, "(T, F)", "a sequence"),
                    "text": (1, "(D,)", "a vector")}


#: name -> FusionSpec, in registration order.
FUSION_REGISTRY: dict[str, FusionSpec] = {}


def register_fusion(name, build, *, head=True, max_width=None, branch=None, description="",
                    check=None):
    """Register a fusion under ``name`` for ``build_model`` and the CLI; returns its spec.

    Raises ``ValueError`` if ``name`` is taken by another builder (registering the same
    spec twice, e.g. on a module reload, is allowed) or is not a lower-case word.
    """
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(f"register_fusion: name must be a lower-case word, got {name!r}")
    if not callable(build):
        raise TypeError(f"register_fusion: build must be callable, got {type(build).__name__}")
    if check is not None and not callable(check):
        raise TypeError(f"register_fusion: check must be callable or None, got "
                        f"{type(check).__name__}")
    spec = FusionSpec(name, build, bool(head), max_width, branch, description, check)
    old = FUSION_REGISTRY.get(name)
    if old is not None and (old.build.__qualname__, old.build.__module__) != \
            (build.__qualname__, build.__module__):
        raise ValueError(f"register_fusion: {name!r} is already registered "
                         f"({old.description or old.build!r})")
    FUSION_REGISTRY[name] = spec
    return spec


def get_fusion(name):
    """The :class:`FusionSpec` registered as ``name``; ``ValueError`` listing the names."""
    try:
        return FUSION_REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"fusion must be one of {tuple(FUSION_REGISTRY)}, got {name!r}") \
            from None


class _FusionNames(Sequence):
    """The registered names as a read-only, always current tuple-like sequence."""

    def __getitem__(self, i):
        return tuple(FUSION_REGISTRY)[i]

    def __len__(self):
        return len(FUSION_REGISTRY)

    def __contains__(self, name):
        return name in FUSION_REGISTRY

    def __eq__(self, other):
        return tuple(self) == (tuple(other) if isinstance(other, (tuple, list, _FusionNames))
                               else other)

    def __hash__(self):
        return hash(tuple(self))

    def __repr__(self):
        return repr(tuple(FUSION_REGISTRY))


#: The names of the registered fusions ("early", "late", "attention", "tensor", ...);
#: stays current as fusions register.
FUSIONS = _FusionNames()
