"""A plain PyTorch training loop, recorded by reprocheck: what your own train.py looks like.

Run it alone (``REPROCHECK_OUT=runs/a python train.py``) or in every pinned environment
(``python -m reprocheck.nox``: the noxfile runs ``python train.py`` in each and sets
``REPROCHECK_OUT=runs/<env>``). ``reprocheck.record`` writes the run where
``REPROCHECK_OUT`` says; ``reprocheck compare runs/a runs/b`` compares two.
"""

from __future__ import annotations

import argparse

import torch

import reprocheck

FEATURES, HIDDEN, CLASSES, BATCH = 16, 32, 4, 32


def make_model() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN),
        torch.nn.LayerNorm(HIDDEN),
        torch.nn.GELU(),
        torch.nn.Linear(HIDDEN, CLASSES),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10, help="training steps (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    reprocheck.seed_everything(args.seed)  # Python, numpy and torch; the run records it
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = torch.randn(args.steps, BATCH, FEATURES)
    y = torch.randint(0, CLASSES, (args.steps, BATCH))

    # No `out`: reprocheck.record writes to $REPROCHECK_OUT (runs/<env> in the matrix).
    with reprocheck.record(model=model, optimizer=optimizer) as rec:
        for step in range(args.steps):
            logits = model(x[step])
            loss = torch.nn.functional.cross_entropy(logits, y[step])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            accuracy = (logits.argmax(dim=1) == y[step]).float().mean()
            rec.step(loss, accuracy=accuracy)
    print(f"trained {args.steps} steps, final loss {loss.item():.5f}, wrote {rec.out}")


if __name__ == "__main__":
    main()
