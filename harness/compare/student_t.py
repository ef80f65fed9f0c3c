"""Student's t quantile and Welch's interval, for `loadgate compare` (scipy is not a
dependency): the quantile is inverted from the regularized incomplete beta function."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def welch_half_width(parts: Sequence[tuple[float, float]], confidence: float) -> float:
    """Half the width of Welch's t interval from each side's (variance, degrees of freedom),
    with the Welch-Satterthwaite degrees of freedom."""
    variance = sum(v for v, _ in parts)
    if variance <= 0:
        return 0.0
    spread = sum(v * v / df for v, df in parts if math.isfinite(df))
    df = variance * variance / spread if spread > 0 else math.inf
    return t_quantile(1 - (1 - confidence) / 2, df) * math.sqrt(variance)


def t_quantile(p: float, df: float) -> float:
    """The p quantile of Student's t with `df` degrees of freedom (df may be fractional, as
    Welch-Satterthwaite gives, or infinite: the normal quantile): Newton's method on the cdf,
    kept inside a bracket that bisection narrows whenever a step would leave it."""
    if not 0 < p < 1 or not df > 0:
        raise ValueError(f"t quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    cdf: Callable[[float], float] = _normal_cdf
    pdf: Callable[[float], float] = _normal_pdf
    if not math.isinf(df):
        cdf, pdf = (lambda t: _t_cdf(t, df)), (lambda t: _t_pdf(t, df))
    low, high = 0.0, 1.0
    while cdf(high) < p:
        low, high = high, high * 2
    t = (low + high) / 2
    for _ in range(200):
        error = cdf(t) - p
        low, high = (t, high) if error < 0 else (low, t)
        step = t - error / pdf(t)
        step = step if low < step < high else (low + high) / 2
        if abs(step - t) <= 1e-13 * max(1.0, t):
            return step
        t = step
    return t


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _normal_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _t_pdf(t: float, df: float) -> float:
    log_scale = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_scale - (df + 1) / 2 * math.log1p(t * t / df))


def _t_cdf(t: float, df: float) -> float:
    """P(T <= t) for t >= 0: 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t²)."""
    return 1 - 0.5 * _regularized_beta(df / (df + t * t), df / 2, 0.5)


def _regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) by its continued fraction (Numerical Recipes, 3rd ed., §6.4), on the side of
    x where the fraction converges fast."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(x, a, b) / a
    return 1 - front * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of the incomplete beta function, by the modified Lentz method."""
    tiny = 1e-300

    def guard(value: float) -> float:
        return tiny if abs(value) < tiny else value

    c, d = 1.0, 1 / guard(1 - (a + b) * x / (a + 1))
    result = d
    for m in range(1, 1000):
        even = m * (b - m) * x / ((a - 1 + 2 * m) * (a + 2 * m))
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1 + 2 * m))
        for step in (even, odd):
            d = 1 / guard(1 + step * d)
            c = guard(1 + step / c)
            result *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return result
