"""FitNet's regressor and hint loss (Romero et al. 2015, section 2.2)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zhijian_core.errors import NotApplicableError


def build_regressor(guided: Tensor, hint: Tensor, method: str = "fitnet") -> nn.Module:
    """The regressor ``r`` mapping the student's guided output onto the teacher's hint.

    Feature maps ``(B, C, H, W)``: a convolution ``C_s → C_t`` whose kernel
    ``(H_s − H_t + 1) × (W_s − W_t + 1)`` makes the spatial sizes match, as in the paper (a 1×1
    convolution when they are equal). Token sequences ``(B, T, C)``: a linear map ``C_s → C_t``
    applied to every token (the sequence lengths must be equal).

    Args:
        guided: A sample output of the student's guided block.
        hint: The teacher's hint-block output for the same inputs.
        method: Method name for error messages.

    Raises:
        NotApplicableError: the two outputs cannot be matched (different layouts, a student map
            smaller than the teacher's, different token counts).
    """
    if guided.ndim == 4 and hint.ndim == 4:
        (_, c_s, h_s, w_s), (_, c_t, h_t, w_t) = guided.shape, hint.shape
        if h_s < h_t or w_s < w_t:
            raise NotApplicableError(
                f"method '{method}': the guided feature map ({h_s}×{w_s}) is smaller than the "
                f"hint ({h_t}×{w_t}); choose a lower guided block or a higher hint block")
        return nn.Conv2d(c_s, c_t, kernel_size=(h_s - h_t + 1, w_s - w_t + 1))
    if guided.ndim == 3 and hint.ndim == 3:
        if guided.shape[1] != hint.shape[1]:
            raise NotApplicableError(
                f"method '{method}': the guided block gives {guided.shape[1]} tokens but the "
                f"hint has {hint.shape[1]}; teacher and student must tokenize alike")
        return nn.Linear(guided.shape[-1], hint.shape[-1])
    raise NotApplicableError(
        f"method '{method}': cannot regress a guided output of shape {tuple(guided.shape)} onto "
        f"a hint of shape {tuple(hint.shape)} (feature maps and token sequences do not mix)")


def hint_loss(regressed: Tensor, hint: Tensor, mask: Tensor | None = None) -> Tensor:
    """``½ ‖u_h(x) − r(v_g(x))‖²`` per example, averaged over the batch.

    Args:
        regressed: The regressor's output ``r(v_g(x))`` (same shape as ``hint``).
        hint: The teacher's hint ``u_h(x)`` (no gradient flows into it).
        mask: For token sequences ``(B, T, C)``: weights ``(B, T)`` of the real tokens (padding
            does not count); ``None``: every position counts.
    """
    if regressed.shape != hint.shape:
        raise ValueError(f"regressed hint {tuple(regressed.shape)} and hint "
                         f"{tuple(hint.shape)} differ in shape")
    squared = (regressed.float() - hint.detach().float()) ** 2
    if mask is not None:
        squared = squared * mask.float().unsqueeze(-1)
    per_example = squared.flatten(1).sum(1)
    return 0.5 * per_example.mean() if len(per_example) else torch.zeros(())
