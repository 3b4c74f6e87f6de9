"""Bottleneck adapters: Houlsby's serial adapter and AdaptFormer's parallel, scaled branch."""

from __future__ import annotations

from torch import Tensor, nn


class Bottleneck(nn.Module):
    """``up(act(down(x)))``: a projection to ``hidden`` features and back to ``dim``.

    Args:
        dim: Input and output size.
        hidden: Bottleneck size.
        activation: ``"gelu"`` (Houlsby) or ``"relu"`` (AdaptFormer).
    """

    def __init__(self, dim: int, hidden: int, activation: str) -> None:
        super().__init__()
        self.down = nn.Linear(dim, hidden)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.up = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.up(self.act(self.down(x)))


class SerialAdapter(nn.Module):
    """``y + adapter(y)`` with ``y = base(x)``: Houlsby's adapter after a sublayer's projection.

    Initialised near zero (weights drawn with a small standard deviation, biases zero), the adapter
    starts close to the identity, as the paper prescribes, and every weight gets a gradient at once.

    Args:
        base: The wrapped layer (the projection that ends an attention or MLP sublayer).
        dim: Its output size.
        hidden: Bottleneck size.
        init_std: Standard deviation of the initial adapter weights.
    """

    def __init__(self, base: nn.Module, dim: int, hidden: int, init_std: float = 1e-3) -> None:
        super().__init__()
        self.base = base
        self.adapter = Bottleneck(dim, hidden, "gelu")
        for layer in (self.adapter.down, self.adapter.up):
            nn.init.normal_(layer.weight, std=init_std)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        y = self.base(x)
        return y + self.adapter(y)


class ParallelAdapter(nn.Module):
    """AdaptFormer's branch beside an MLP: ``base(x) + scale · branch(x)``.

    ``down`` starts Kaiming-initialised and ``up`` at zero, as in the paper, so the model starts as
    the PTM (``up`` gets a gradient at once, ``down`` after the first step).

    With ``residual_input``, ``base`` is a post-norm block's output layer
    ``base(h, r) = norm(dense(h) + r)`` (BERT's ``BertOutput``, whose ``r`` is the MLP's input):
    the branch then reads ``r`` and its output joins the residual sum before the norm,
    ``base(h, r + scale · branch(r))``.

    Args:
        base: The MLP (or, with ``residual_input``, the post-norm output layer of the MLP).
        dim: Size of the MLP's input and output.
        hidden: Bottleneck size.
        scale: Fixed scaling factor ``s`` of the branch.
        residual_input: Whether ``base`` takes ``(hidden, residual)`` as described above.
    """

    def __init__(self, base: nn.Module, dim: int, hidden: int, scale: float,
                 residual_input: bool) -> None:
        super().__init__()
        self.base = base
        self.branch = Bottleneck(dim, hidden, "relu")
        self.scale = scale
        self.residual_input = residual_input
        nn.init.kaiming_normal_(self.branch.down.weight)
        nn.init.zeros_(self.branch.down.bias)
        nn.init.zeros_(self.branch.up.weight)
        nn.init.zeros_(self.branch.up.bias)

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        if self.residual_input:
            if residual is None:
                raise TypeError("a residual-input parallel adapter takes (hidden, residual)")
            return self.base(x, residual + self.scale * self.branch(residual))
        return self.base(x) + self.scale * self.branch(x)
