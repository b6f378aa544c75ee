"""Muon: momentum, orthogonalised, for the matrices inside the blocks (Jordan et al. 2024;
nanochat trains its block this way, and the rest with AdamW).

    optimizer = optimizers(model, weight_decay, adamw_lr, muon_lr, betas)
    train.fit(model, cfg, batches, optimizer=optimizer)

AdamW scales every weight's step by that weight's own gradient history. Muon treats a
weight matrix as what it is, a linear map: it takes the momentum of the gradient,
G = U S V^T, and steps along U V^T, the same matrix with every singular value set to 1.
Directions that the gradient barely pushes along (small singular values) get as large a
step as the dominant ones, so an update is not spent on a few directions only.
"""

import torch

# How near to 1 newton_schulz's five steps bring every singular value, for a matrix whose
# singular values span up to a factor of 100: |s - 1| <= 0.35. The coefficients trade
# exactness for speed; Jordan et al. found that near enough for training.
TOLERANCE = 0.35


def newton_schulz(G: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """About U V^T for G = U S V^T, without an SVD: a few matrix products that push
    every singular value towards 1 and keep the singular vectors."""
    a, b, c = 3.4445, -4.7750, 2.0315  # p(s) = a s + b s^3 + c s^5, applied to each s
    X = G / (G.norm() + 1e-7)  # divided by the Frobenius norm: every s is now <= 1
    tall = X.size(0) > X.size(1)
    if tall:
        X = X.T  # (rows <= cols): X X^T is the smaller of the two square products
    for _ in range(steps):
        A = X @ X.T  # U S^2 U^T
        X = a * X + (b * A + c * A @ A) @ X  # U p(S) V^T
    return X.T if tall else X


class Muon(torch.optim.Optimizer):
    """SGD with Nesterov momentum whose update goes through newton_schulz: for 2-D
    parameters only."""

    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("momentum", torch.zeros_like(p))
                buf.mul_(group["momentum"]).add_(p.grad)
                update = newton_schulz(p.grad + group["momentum"] * buf)  # Nesterov
                # U V^T of a tall matrix has rows of mean square length cols/rows: back to 1
                p.add_(update, alpha=-group["lr"] * max(1, p.size(0) / p.size(1)) ** 0.5)


def block_matrices(model: torch.nn.Module) -> list[str]:
    """The names of the parameters Muon trains: the Linear weights inside the blocks.
    Embeddings are lookups, a row read only where its token appears (tied to the output
    layer here, every row also gets the scoring's gradient, but it stays a table of
    tokens, not a map of the residual stream); norm gains and biases are vectors."""
    return [
        n for n, p in model.named_parameters() if n.startswith("transformer.h.") and p.dim() == 2
    ]


class Paired:
    """Muon and AdamW stepped as one optimizer, which is what train.fit takes."""

    def __init__(self, muon: Muon, adamw: torch.optim.AdamW):
        self.muon, self.adamw = muon, adamw
        self.param_groups = muon.param_groups + adamw.param_groups

    @property
    def state(self) -> dict:
        """Both optimizers' state, by parameter (train.arithmetic casts what it holds)."""
        return {**self.muon.state, **self.adamw.state}

    def step(self):
        self.muon.step()
        self.adamw.step()

    def zero_grad(self, set_to_none: bool = True):
        self.muon.zero_grad(set_to_none)
        self.adamw.zero_grad(set_to_none)


def optimizers(model, weight_decay, adamw_lr, muon_lr, betas) -> Paired:
    """Muon for block_matrices(model); AdamW, with GPT's two groups, for the rest. Muon's
    rate follows the same schedule as AdamW's, scaled by muon_lr / adamw_lr."""
    muon_names = block_matrices(model)
    params = dict(model.named_parameters())  # a tied matrix appears once
    rest = [p for n, p in params.items() if n not in muon_names]
    groups = [
        {"params": [p for p in rest if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0},
    ]
    muon = Muon([params[n] for n in muon_names], lr=muon_lr)
    muon.param_groups[0]["lr_scale"] = muon_lr / adamw_lr  # train.fit reads it
    return Paired(muon, torch.optim.AdamW(groups, lr=adamw_lr, betas=betas, fused=True))
