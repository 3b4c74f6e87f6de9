"""Config of Fisher merging."""

from __future__ import annotations

from pydantic import NonNegativeFloat, PositiveInt

from zhijian_core.methods.merge_config import TaskMergeConfig


class FisherConfig(TaskMergeConfig):
    """Per-task ingredients tuned from the comparison PTM, and how their Fishers are estimated."""

    fisher_examples: PositiveInt = 256
    """Training examples (drawn with the run's seed; all when fewer) over which each ingredient's
    diagonal Fisher is averaged. Their labels are not used."""
    floor: NonNegativeFloat = 1e-8
    """Added to every Fisher entry, so that a weight no ingredient is sensitive to gets the plain
    average of the ingredients rather than ``0 / 0``."""
