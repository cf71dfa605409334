"""The operators that draw from a random generator (the trace and compare both ask)."""

from __future__ import annotations

__all__ = ["RANDOM_OPS"]

#: Base names (no ``aten.`` prefix, overload or trailing underscore) of operators that draw
#: from a random generator.
RANDOM_OPS: frozenset[str] = frozenset(
    {
        "dropout",
        "native_dropout",
        "feature_dropout",
        "alpha_dropout",
        "feature_alpha_dropout",
        "_fused_dropout",
        "fused_dropout",
        "bernoulli",
        "randint",
        "randint_like",
        "randperm",
        "multinomial",
        "normal",
        "uniform",
        "random",
        "exponential",
        "geometric",
        "log_normal",
        "cauchy",
        "poisson",
        "rand",
        "randn",
        "rand_like",
        "randn_like",
        "rrelu_with_noise",
        "trunc_normal",
        "_standard_gamma",
        "_sample_dirichlet",
        "binomial",
    }
)
