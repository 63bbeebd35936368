"""Training curves: per-seed logs become a mean line with a ±1 std band, on the steps every seed logged."""

import statistics

import pytest

from stepgrpo.curves import band, plot_curves, smooth


def log(values, key="reward", start=1):
    return [{"step": start + index, key: value} for index, value in enumerate(values)] + [{"train_runtime": 1.0}]


def test_band_is_mean_and_std_of_smoothed_runs_on_common_steps():
    first, second = [0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0]
    steps, mean, spread = band([log(first), log(second)], "reward", window=2)
    assert steps == [1, 2, 3]
    a, b = smooth(first, 2), smooth(second, 2)
    assert mean == pytest.approx([(a[i] + b[i]) / 2 for i in range(3)])
    assert spread == pytest.approx([statistics.stdev([a[i], b[i]]) for i in range(3)])


def test_band_of_one_run_has_no_spread_and_missing_key_gives_nothing():
    assert band([log([1.0, 3.0])], "reward", window=1) == ([1, 2], [1.0, 3.0], [0.0, 0.0])
    assert band([log([1.0])], "kl", window=5) == ([], [], [])


def test_plot_curves_writes_one_png_per_logged_metric(tmp_path):
    runs = {"a": [log([0.1, 0.2, 0.3]), log([0.2, 0.2, 0.4])], "b": [log([0.5, 0.5])]}
    paths = plot_curves(runs, tmp_path, prefix="x", curves={"reward": ("reward", "r"), "kl": ("kl", "k")})
    assert [p.name for p in paths] == ["x-reward.png"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
