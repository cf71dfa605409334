"""The model checked against baselines stored beside this file (reprocheck's pytest plugin).

The first run records the baselines in ``tests/reprocheck_baselines/`` and fails asking for
a re-run; commit them. ``pytest --reprocheck-update`` re-records after an intended change.
"""

from __future__ import annotations

import mymodel
import torch

from reprocheck.integrations.pytest_plugin import ReprocheckBaseline


def test_training_matches_the_baseline(reprocheck_baseline: ReprocheckBaseline) -> None:
    """Three seeded AdamW steps of the classifier: same numbers as the baseline."""
    reprocheck_baseline.check_scenario("mymodel:build", steps=3)


def test_forward_is_unchanged(reprocheck_baseline: ReprocheckBaseline) -> None:
    """One forward pass in eval mode: same hidden states and logits as the baseline."""
    torch.manual_seed(0)
    model = mymodel.Classifier().eval()
    x = torch.randn(2, mymodel.SEQ, mymodel.FEATURES)
    with torch.no_grad():
        hidden = model.encoder(model.embed(x))
        logits = model.head(hidden.mean(dim=1))
    reprocheck_baseline.check_tensors({"hidden": hidden, "logits": logits}, name="forward")
