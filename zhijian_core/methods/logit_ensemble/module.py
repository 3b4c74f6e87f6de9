"""The finalized ensemble: every member inside one module, combined in its forward pass.

Members may have different backbones (different PTMs with the same preprocessing), so the ensemble
is not a backbone plus a linear head: it is described by :class:`EnsembleArchitecture` (an
``ArchitectureConfig`` listing its members' architectures) and rebuilt by :func:`rebuild_ensemble`.
"""

from __future__ import annotations

from typing import Callable, Literal, Mapping, Sequence

import torch
from torch import Tensor, nn

from zhijian_core.model import ArchitectureConfig, build_classifier
from zhijian_core.ptm.backbone import Backbone


class EnsembleArchitecture(ArchitectureConfig):
    """An ensemble: its members' architectures and how their outputs combine."""

    module: Literal["ensemble"] = "ensemble"
    """The module kind (an ensemble rather than one backbone and head)."""
    members: list[ArchitectureConfig]
    """Each member's architecture (a backbone plus a linear head), in order."""
    combine: Literal["logits", "probabilities"]
    """What is averaged (see ``LogitEnsembleConfig``)."""


class EnsembleClassifier(nn.Module):
    """The mean of the members' logits, or the log of the mean of their probabilities."""

    def __init__(self, members: Sequence[nn.Module], combine: Literal["logits", "probabilities"]
                 ) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.combine = combine

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        logits = torch.stack([member(batch) for member in self.members])
        if self.combine == "logits":
            return logits.mean(dim=0)
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=0) - torch.log(
            torch.tensor(float(len(self.members)), dtype=logits.dtype))


def rebuild_ensemble(architecture: EnsembleArchitecture,
                     load_backbone: Callable[[str], Backbone]) -> EnsembleClassifier:
    """An ensemble of fresh members of ``architecture`` (load its weights next).

    Args:
        architecture: The ensemble's description.
        load_backbone: Returns a random-init skeleton backbone for a PTM spec (a new one per call).
    """
    members = [build_classifier(member, load_backbone(member.ptm)) for member in architecture.members]
    return EnsembleClassifier(members, architecture.combine)
