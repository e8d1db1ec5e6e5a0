"""panns_lite.hear: the HEAR 2021 API, checked by HEAR's own validator and against the Tagger."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_inference import calibrated_cnn14, signal

from panns_lite import hear
from panns_lite.audio import resample
from panns_lite.checkpoints import save_checkpoint
from panns_lite.inference import Tagger

STUB = Path(__file__).parent / "fixtures" / "hear_stub"
RATE = hear.HEAR_SAMPLE_RATE


@pytest.fixture(scope="module")
def network():
    return calibrated_cnn14()


@pytest.fixture(scope="module")
def model(network):
    return hear.HearModel(network)


def validate(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(STUB), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "hearvalidator.validate", "panns_lite.hear", *args, "-d", "cpu"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.slow
def test_hear_validator_accepts_the_shipped_model():
    result = validate()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Looks good!" in result.stdout
    assert "Interval between timestamps is 50.0ms" in result.stdout


def test_hear_validator_accepts_a_checkpoint_file(network, tmp_path):
    result = validate("-m", str(save_checkpoint(network, tmp_path / "model.pt")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scene_embedding_size: 64" in result.stdout


def test_attributes_say_what_the_embeddings_are(model, network):
    assert model.sample_rate == 48_000
    assert model.scene_embedding_size == model.timestamp_embedding_size == network.fc1.out_features == 64
    assert model.timestamp_hop_ms == 50.0


def test_scene_embedding_is_the_taggers_embedding_of_the_resampled_audio(model, network):
    audio = np.stack([signal(int(2.5 * RATE), seed=1, rate=RATE), signal(int(2.5 * RATE), seed=2, rate=RATE)])
    embeddings = hear.get_scene_embeddings(torch.from_numpy(audio), model)
    assert embeddings.dtype == torch.float32 and embeddings.shape == (2, 64)
    for row, expected in zip(embeddings.numpy(), audio):
        np.testing.assert_allclose(row, Tagger(network).embed(expected, RATE), rtol=1e-5, atol=1e-6)


def test_timestamp_embeddings_are_what_the_framewise_head_classifies(model, network):
    """Over three 10 s chunks: the head applied to each timestamp embedding gives the Tagger's
    frame-wise probabilities at frames 0, 5, 10, … (so chunk offsets and the 50 ms stride line up)."""
    audio = signal(int(23.3 * RATE), seed=3, rate=RATE)
    embeddings, timestamps = hear.get_timestamp_embeddings(torch.from_numpy(audio[None]), model)
    frames = Tagger(network).framewise(audio, RATE)
    assert frames.probabilities.shape[0] == math.ceil(len(resample(audio, RATE, 32000)) / 320)
    assert timestamps.shape == embeddings.shape[:2] == (1, math.ceil(frames.probabilities.shape[0] / 5))
    np.testing.assert_allclose(timestamps[0].numpy(), frames.times[::5] * 1000, rtol=0, atol=1e-9)
    with torch.no_grad():
        head = torch.sigmoid(network.fc_audioset(embeddings[0])).numpy()
    np.testing.assert_allclose(head, frames.probabilities[::5], atol=1e-5)


def test_timestamps_do_not_drift_over_twenty_minutes(model):
    """A 0.5 s burst at 1195 s of an otherwise silent 20-minute input changes only the embeddings
    timestamped within the network's reach of it, centred on it, and the timestamps are exact
    multiples of 50 ms up to the end. The reach: CNN14's receptive field is 284 frames, 348 with the
    segment head's 3-segment smoothing (±1.74 s), plus one 320 ms segment of quantisation. The
    reference is the first 10 s chunk: silence goes through the network chunk by chunk, so every
    silent chunk gives the same embeddings."""
    audio = np.zeros(20 * 60 * RATE, dtype=np.float32)
    start = 1195 * RATE
    audio[start : start + RATE // 2] = signal(RATE // 2, seed=4, rate=RATE)
    embeddings, timestamps = hear.get_timestamp_embeddings(torch.from_numpy(audio[None]), model)
    times = timestamps[0].numpy()
    assert len(times) == 20 * 60 * 20 and times[-1] == 20 * 60 * 1000 - 50
    np.testing.assert_array_equal(times, np.arange(len(times)) * 50.0)
    per_chunk = embeddings[0].reshape(120, 200, -1)
    changed = times[(per_chunk - per_chunk[:1]).abs().amax(dim=2).flatten().numpy() > 1e-4]
    assert len(changed) > 0
    assert changed.min() >= 1_195_000 - 2_060 and changed.max() <= 1_195_500 + 2_060
    assert abs((changed.min() + changed.max()) / 2 - 1_195_250) <= 160


def test_embeddings_follow_the_model_to_its_device(network):
    model = hear.HearModel(network).to("cpu")
    embeddings, _ = hear.get_timestamp_embeddings(torch.zeros(1, RATE), model)
    assert embeddings.device.type == "cpu"


def test_load_model_reads_a_checkpoint(network, tmp_path):
    loaded = hear.load_model(save_checkpoint(network, tmp_path / "model.pt"))
    audio = torch.from_numpy(signal(RATE, seed=5, rate=RATE)[None])
    np.testing.assert_allclose(
        hear.get_scene_embeddings(audio, loaded),
        hear.get_scene_embeddings(audio, hear.HearModel(network)),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "audio",
    [
        torch.zeros(RATE),
        torch.zeros(2, 1, RATE),
        torch.zeros(2, RATE, dtype=torch.int16),
        torch.zeros(2, 0),
        np.zeros((2, RATE), dtype=np.float32),
    ],
)
def test_bad_audio_is_refused_with_the_expected_layout(model, audio):
    with pytest.raises(ValueError, match=r"\(n_sounds, n_samples\) float tensor at 48000 Hz"):
        hear.get_scene_embeddings(audio, model)


def test_a_model_from_elsewhere_is_refused(network):
    with pytest.raises(TypeError, match="panns_lite.hear.load_model"):
        hear.get_timestamp_embeddings(torch.zeros(1, RATE), network)


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        hear.load_model(tmp_path / "missing.pt")
