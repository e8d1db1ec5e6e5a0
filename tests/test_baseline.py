"""The linear (pooled log-mel + logistic regression) baseline."""

import numpy as np
import pytest

from panns_lite.baseline import linear_baseline, packed_baseline, pooled_logmel


def tones(freqs, seconds=1.0, sr=32000):
    t = np.arange(int(seconds * sr)) / sr
    return np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in freqs]).astype(np.float32)


def test_features_shape_and_int16_equivalence():
    x = tones([440, 3000]) + 0.01 * np.random.default_rng(0).standard_normal((2, 32000)).astype(np.float32)
    f = pooled_logmel(x)  # noise keeps every bin far above int16 quantisation noise
    assert f.shape == (2, 256) and np.isfinite(f).all()
    as_int16 = (x * 32767).round().astype(np.int16)
    assert np.allclose(pooled_logmel(as_int16), f, atol=1e-2)


def test_features_see_frequency():
    low, high = pooled_logmel(tones([300, 6000]))
    assert np.argmax(low[:64]) < np.argmax(high[:64])  # the mean log-mel peaks in a higher bin


def test_baseline_separates_separable_classes():
    rng = np.random.default_rng(0)
    y = rng.random((120, 5)) < 0.3
    y[:, 4] = False  # never positive: left out of mAP
    x = y[:, :4].astype(float) * 3 + rng.normal(size=(120, 4))
    scores = linear_baseline(x[:80], y[:80], x[80:], y[80:])
    assert scores.classes_ap == 4
    assert scores.mAP > 0.9


def test_baseline_on_packed_files_reads_them_in_batches(tiny_packed):
    import h5py

    scores = packed_baseline(tiny_packed["train"], tiny_packed["eval"])
    with h5py.File(tiny_packed["eval"]) as h5:
        assert scores.classes_ap == int(h5["target"][:].any(axis=0).sum()) == 3
    assert scores.mAP > 0.9  # tones at 500 Hz / 3 kHz and noise bursts: linearly separable log-mel statistics


def test_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        pooled_logmel(np.zeros((0, 32000), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        pooled_logmel(np.zeros(32000, np.float32))


def test_baseline_outputs_on_several_packed_files_are_the_scores_of_each(tiny_packed):
    import h5py

    from panns_lite.baseline import packed_baseline_outputs
    from panns_lite.metrics import evaluate

    outputs = packed_baseline_outputs(tiny_packed["train"], [tiny_packed["eval"], tiny_packed["train"]])
    with h5py.File(tiny_packed["eval"]) as h5:
        targets = h5["target"][:].astype(bool)
    assert [o.shape for o in outputs] == [(12, 527), (24, 527)]
    assert evaluate(targets, outputs[0]).mAP == pytest.approx(
        packed_baseline(tiny_packed["train"], tiny_packed["eval"]).mAP
    )


def test_packed_features_pool_the_shared_float16_cache_like_the_waveforms(tiny_packed, monkeypatch):
    import h5py

    from panns_lite import datasets
    from panns_lite.baseline import packed_features

    features, targets = packed_features(tiny_packed["eval"])
    with h5py.File(tiny_packed["eval"]) as h5:
        direct = pooled_logmel(h5["waveform"])
        assert np.array_equal(targets, h5["target"][:].astype(bool))
    # log-mels rounded to float16 (at most 1/32 dB): the pooled statistics move by no more
    assert np.abs(features - direct).max() < 1 / 32
    monkeypatch.setattr(datasets, "_frontend_output", None)  # a second call must read the kept cache
    again, _ = packed_features(tiny_packed["eval"])
    assert np.array_equal(again, features)


def test_fitting_classes_in_parallel_gives_the_same_models():
    from panns_lite.baseline import LinearBaseline

    rng = np.random.default_rng(1)
    y = rng.random((90, 4)) < 0.4
    x = y.astype(float) * 2 + rng.normal(size=(90, 4))
    alone, side_by_side = LinearBaseline(n_jobs=1).fit(x, y), LinearBaseline(n_jobs=2).fit(x, y)
    assert np.array_equal(alone.predict(x), side_by_side.predict(x))
