"""ClipTracks (panns_lite.clip_tracks): one network pass per clip, detectors built on its tracks."""

import numpy as np
import pytest
import soundfile as sf
import torch

from panns_lite.audioset import ClassLabels
from panns_lite.clip_tracks import ClipTracks, framewise_tracks
from panns_lite.events import Event
from panns_lite.models import Cnn14, scaled_widths

SR = 32000
VOCABULARY = ClassLabels(("/m/a", "/m/b", "/m/c", "/m/d"), ("Alpha", "Beta", "Gamma", "Delta"))
SCORED = ClassLabels(("/m/b", "/m/d"), ("Beta", "Delta"))


@pytest.fixture(scope="module")
def model() -> Cnn14:
    torch.manual_seed(0)
    return Cnn14(classes_num=4, widths=scaled_widths(1 / 32), embed_dim=16).eval()


def write_clips(folder, lengths: list[float]) -> list:
    rng = np.random.default_rng(0)
    paths = []
    for k, seconds in enumerate(lengths):
        path = folder / f"clip{k}.wav"
        sf.write(path, 0.1 * rng.standard_normal(int(seconds * SR)).astype(np.float32), SR, subtype="FLOAT")
        paths.append(path)
    return paths


def test_batched_tracks_equal_one_clip_at_a_time(model, tmp_path):
    # lengths 1, 1, 1, 0.7, 1 s with batches of 2: [0, 1], [2], [3] (shorter), [4]; no clip is padded
    paths = write_clips(tmp_path, [1.0, 1.0, 1.0, 0.7, 1.0])
    tracks = framewise_tracks(model, paths, SCORED, VOCABULARY, batch_size=2)
    assert tracks.columns == (1, 3) and tracks.frame_hop == 320 / SR
    assert list(tracks.framewise) == [f"clip{k}" for k in range(5)]
    for path in paths:
        wave, _ = sf.read(path, dtype="float32")
        with torch.inference_mode():
            alone = model(torch.from_numpy(wave)[None], framewise=True)
        frames = -(-len(wave) // 320)  # 100 frames for 1 s, 70 for 0.7 s
        assert tracks.framewise[path.stem].shape == (frames, 2)
        np.testing.assert_allclose(
            tracks.framewise[path.stem], alone["framewise_output"][0, :frames][:, [1, 3]].numpy(), atol=1e-5
        )
        np.testing.assert_allclose(tracks.clipwise[path.stem], alone["clipwise_output"][0].numpy(), atol=1e-5)
        assert tracks.durations[path.stem] == pytest.approx(len(wave) / SR)


def test_bad_arguments_are_refused(model, tmp_path):
    paths = write_clips(tmp_path, [1.0])
    with pytest.raises(ValueError, match="batch_size"):
        framewise_tracks(model, paths, SCORED, VOCABULARY, batch_size=0)
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        framewise_tracks(model.train(), paths, SCORED, VOCABULARY)
    model.eval()
    with pytest.raises(KeyError, match="/m/z"):
        framewise_tracks(model, paths, ClassLabels(("/m/z",), ("Zed",)), VOCABULARY)


def hand_tracks() -> ClipTracks:
    # one clip, 10 frames 0.1 s apart; Beta on at frames 2–4 with a one-frame spike at 7, Delta never
    beta = np.array([0.1, 0.1, 0.8, 0.9, 0.8, 0.1, 0.1, 0.9, 0.1, 0.1])
    framewise = {"x": np.stack([beta, np.full(10, 0.2)], axis=1)}
    clipwise = {"x": np.array([0.5, 0.7, 0.0, 0.3])}
    return ClipTracks(SCORED, (1, 3), 0.1, framewise, clipwise, {"x": 1.0})


def test_clip_level_spreads_the_clip_probability_over_every_frame():
    level = hand_tracks().clip_level()["x"]
    assert level.shape == (10, 2)
    assert (level[:, 0] == 0.7).all() and (level[:, 1] == 0.3).all()


def test_smoothing_removes_the_spike_and_detection_times_the_run():
    tracks = hand_tracks()
    # 0.3 s = 3 frames: medians 0.1 0.1 0.8 0.8 0.8 0.1 0.1 0.1 0.1 0.1 (the lone frame 7 is gone)
    smoothed = tracks.smoothed(0.3)
    np.testing.assert_array_equal(np.flatnonzero(smoothed["x"][:, 0] >= 0.5), [2, 3, 4])
    assert tracks.smoothed(0.2)["x"].shape == (10, 2)  # 2 frames round up to an odd 3
    np.testing.assert_array_equal(tracks.smoothed(0.2)["x"], smoothed["x"])
    # frames 2–4: onset 0.2 s, offset 0.5 s (the centre of frame 5), peak 0.8 (of the filtered track)
    assert tracks.detect(smoothed, ["x"], 0.5) == {"x": [Event(0.2, 0.5, "Beta", "/m/b", 0.8)]}
    # a threshold per class: Delta at 0.2 is on throughout, to the clip's end (events sorted by onset)
    both = tracks.detect(smoothed, ["x"], np.array([0.5, 0.2]))["x"]
    assert both == [Event(0.0, 1.0, "Delta", "/m/d", 0.2), Event(0.2, 0.5, "Beta", "/m/b", 0.8)]


def test_scores_and_tuning_on_a_hand_made_reference():
    tracks = hand_tracks()
    smoothed = tracks.smoothed(0.3)
    reference = {"x": [Event(0.2, 0.5, "Beta", "/m/b")]}
    scores = tracks.scores(reference, tracks.detect(smoothed, ["x"], 0.5))
    # the one detected event matches the one reference event; one 1 s segment, Beta in both
    assert scores == {
        "detected events": 1,
        "event-based F1": 1.0,
        "segment-based F1": 1.0,
        "segment-based ER": 0.0,
    }
    nothing = tracks.scores(reference, {"x": []})
    assert nothing["detected events"] == 0 and nothing["segment-based ER"] == 1.0
    # Beta: 0.9 leaves frames 2–4 inactive (medians 0.8), 0.5 finds them → the higher candidate that
    # still detects, 0.5 (0.3 and 0.5 tie on F1 and the higher wins); Delta has no reference event → 0.9
    np.testing.assert_array_equal(tracks.tune(smoothed, reference, [0.3, 0.5, 0.9]), [0.5, 0.9])
