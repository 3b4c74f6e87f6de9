"""Config of the k-nearest-neighbour classifier."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveFloat, PositiveInt

from zhijian_core.methods.base import MethodConfig


class KNNConfig(MethodConfig):
    """How many neighbours vote, and how their votes are weighted."""

    k: PositiveInt = 20
    """Number of nearest training examples (by cosine similarity) that vote; at most the number
    of labelled training examples."""
    weighting: Literal["uniform", "similarity"] = "similarity"
    """``uniform``: one vote per neighbour (Cover & Hart). ``similarity``: a neighbour of cosine
    similarity ``s`` votes ``exp(s / temperature)`` (Wu et al. 2018), which also breaks ties."""
    temperature: PositiveFloat = 0.07
    """Temperature of ``similarity`` weighting (0.07 as in Wu et al. 2018)."""
