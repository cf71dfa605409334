"""A GPT-like language model as a user would write one: token and position embeddings,
pre-norm transformer blocks (causal self-attention, GELU MLP), a tied output head, AdamW
with weight decay and gradient clipping.

``build`` is small (for tests); ``REPROCHECK_GPT`` picks a size: ``tiny`` (the default,
about 0.2M parameters), ``30m`` (about 33M) or ``67m`` (about 67M, GPT-2's vocabulary).
"""

from __future__ import annotations

import os

import torch
from torch import nn

import reprocheck

#: name -> (vocabulary, width, layers, heads, context)
SIZES = {
    "tiny": (512, 64, 2, 4, 32),
    "30m": (50304, 384, 6, 6, 64),
    "67m": (50304, 512, 13, 8, 64),
}


class Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int, width: int, layers: int, heads: int, context: int) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(context, width)
        self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(layers)))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.tok.weight  # tied, as in GPT-2
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos.weight, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[1])
        return self.head(self.ln(self.blocks(self.tok(idx) + self.pos(pos))))


def build(ctx: reprocheck.ScenarioContext) -> reprocheck.Scenario:
    vocab, width, layers, heads, context = SIZES[os.environ.get("REPROCHECK_GPT", "tiny")]
    model = GPT(vocab, width, layers, heads, context)
    tokens = torch.randint(0, vocab, (ctx.steps, 2, context + 1), generator=ctx.generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)

    def loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        logits = model(batch[:, :-1])
        return nn.functional.cross_entropy(logits.reshape(-1, vocab), batch[:, 1:].reshape(-1))

    return reprocheck.Scenario(
        model=model,
        optimizer=optimizer,
        batch=lambda step: tokens[step],
        loss=loss,
        clip_grad_norm=1.0,
    )
