"""``transformer``: one pre-norm transformer block on a next-token task, trained with AdamW.

Covers the kernels language models lean on: an embedding initialised with
``trunc_normal_`` (a random-stream consumer distinct from the default initialisers),
attention through ``scaled_dot_product_attention`` (without attention dropout, so that
the fused attention kernel runs and shows in the operator trace as one operator), layer
norm, dropout in training mode on both residual branches, GELU, and AdamW's decoupled
weight decay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprocheck.scenarios.api import Scenario, ScenarioContext

if TYPE_CHECKING:
    import torch

DEFAULT_STEPS = 8
DESCRIPTION = "Embedding + attention (SDPA) + LayerNorm + dropout, AdamW"

_VOCAB, _DIM, _HEADS, _SEQ, _BATCH = 128, 64, 4, 32, 32
_DROPOUT = 0.1


def _modules() -> type[torch.nn.Module]:
    # Defined inside a function so that importing this module does not import torch.
    from torch import nn

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(_DIM, 3 * _DIM)
            self.proj = nn.Linear(_DIM, _DIM)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, _ = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, _HEADS, _DIM // _HEADS).unbind(2)
            out = nn.functional.scaled_dot_product_attention(
                q.transpose(1, 2),
                k.transpose(1, 2),
                v.transpose(1, 2),
                is_causal=True,
            )
            projected: torch.Tensor = self.proj(out.transpose(1, 2).reshape(b, t, _DIM))
            return projected

    class TinyLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(_VOCAB, _DIM)
            nn.init.trunc_normal_(self.embed.weight, std=0.02, a=-0.04, b=0.04)
            self.ln1 = nn.LayerNorm(_DIM)
            self.attn = SelfAttention()
            self.ln2 = nn.LayerNorm(_DIM)
            self.mlp = nn.Sequential(
                nn.Linear(_DIM, 4 * _DIM), nn.GELU(), nn.Linear(4 * _DIM, _DIM)
            )
            self.dropout = nn.Dropout(_DROPOUT)
            self.ln_f = nn.LayerNorm(_DIM)
            self.head = nn.Linear(_DIM, _VOCAB)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            x = self.embed(tokens)
            x = x + self.dropout(self.attn(self.ln1(x)))
            x = x + self.dropout(self.mlp(self.ln2(x)))
            logits: torch.Tensor = self.head(self.ln_f(x))
            return logits

    return TinyLM


def build(ctx: ScenarioContext) -> Scenario:
    """Build the scenario (see the module docstring)."""
    import torch
    from torch import nn

    model = _modules()().to(ctx.device)
    tokens = torch.randint(0, _VOCAB, (ctx.steps, _BATCH, _SEQ + 1), generator=ctx.generator)
    tokens = tokens.to(ctx.device)

    def batch(step: int) -> torch.Tensor:
        return tokens[step]

    def loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        logits = model(batch[:, :-1])
        return nn.functional.cross_entropy(logits.reshape(-1, _VOCAB), batch[:, 1:].reshape(-1))

    return Scenario(
        model=model,
        optimizer=torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01),
        batch=batch,
        loss=loss,
    )
