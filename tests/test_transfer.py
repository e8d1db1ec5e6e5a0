"""Transfer learning: the transfer set reader, the models, the probe and the fine-tuning loop, on tiny
data."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.nn import functional as F

from panns_lite.audio import AudioReadError
from panns_lite.checkpoints import load_checkpoint, save_checkpoint
from panns_lite.datasets import LogMelCache
from panns_lite.models import Cnn14, scaled_widths
from panns_lite.transfer import (
    FineTuneConfig,
    TransferSet,
    accuracy,
    embeddings,
    fine_tune,
    linear_probe,
    load_transfer_set,
    nll,
    predict_classes,
    transfer_model,
)

SR = 32000
TONES = (400.0, 1500.0, 5000.0)
CLASSES = ("Low", "Mid, tone", "High")  # a label with a comma: the CSV must quote it


def tone_clip(rng: np.random.Generator, k: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * TONES[k] * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def write_transfer_dir(root: Path, per_class: int = 4, seconds: float = 0.5) -> Path:
    """A transfer folder as the MiniSet builder writes it; the last clip is shorter than the others."""
    rng = np.random.default_rng(0)
    (root / "audio").mkdir(parents=True)
    lines = ["filename,fold,label,mid,source"]
    for k, name in enumerate(CLASSES):
        for j in range(per_class):
            filename = f"c{k}-{j:03d}.wav"
            length = seconds / 2 if (k, j) == (len(CLASSES) - 1, per_class - 1) else seconds
            sf.write(root / "audio" / filename, tone_clip(rng, k, length), SR, subtype="PCM_16")
            lines.append(f'{filename},{j % 2 + 1},"{name}",/m/x,src{k}.wav')
    (root / "transfer_labels.csv").write_text("\n".join(lines) + "\n")
    return root


def tiny_set(n_per_class: int = 8, seconds: float = 1.0) -> TransferSet:
    """Three tones, ``n_per_class`` clips each, alternating over folds 1 and 2."""
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), n_per_class)
    waveforms = np.stack([tone_clip(rng, k, seconds) for k in labels])
    folds = np.tile(np.arange(n_per_class) % 2 + 1, 3)
    return TransferSet(waveforms, labels, folds, CLASSES, [f"clip{i}" for i in range(len(labels))])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A small random CNN14 standing in for a trained one: its batch norms carry the statistics of
    the tiny set (as a trained model's carry its data's) and γ = 1.5, so that resetting them shows."""
    torch.manual_seed(0)
    model = Cnn14(widths=scaled_widths(1 / 16), embed_dim=32)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in norms:
        bn.momentum = None  # cumulative average over the one pass below
    with torch.no_grad():
        model.train().forward_features(model.logmel(torch.from_numpy(tiny_set().waveforms)))
        for bn in norms:
            bn.momentum = 0.1
            bn.weight.fill_(1.5)
    return save_checkpoint(model, tmp_path_factory.mktemp("transfer") / "model.pt")


@pytest.fixture(scope="module")
def data() -> TransferSet:
    return tiny_set()


@pytest.fixture(scope="module")
def logmels(data, checkpoint) -> LogMelCache:
    return LogMelCache.build(data, load_checkpoint(checkpoint).logmel, dtype=torch.float32)


# ------------------------------------------------------------------------------ the data
def test_load_transfer_set_reads_labels_folds_and_pads_clips(tmp_path) -> None:
    data = load_transfer_set(write_transfer_dir(tmp_path))
    assert data.classes == CLASSES
    assert data.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert data.folds.tolist() == [1, 2, 1, 2] * 3
    assert data.waveforms.shape == (12, SR // 2)
    assert (
        not data.waveforms[-1, SR // 4 :].any() and data.waveforms[-1, : SR // 4].any()
    )  # padded at the end
    assert data.names[5] == "c1-001.wav" and data.targets[5].tolist() == [False, True, False]


@pytest.mark.parametrize(
    "edit, error, match",
    [
        (lambda text: text.replace("fold,", "split,"), ValueError, "missing columns"),
        (lambda text: text.replace(",1,", ",one,", 1), ValueError, "integers"),
        (lambda text: text.splitlines()[0] + "\n", ValueError, "no clips"),
        (lambda text: text.replace("c0-000.wav", "gone.wav"), AudioReadError, "gone.wav"),
    ],
)
def test_load_transfer_set_rejects_bad_tables(tmp_path, edit, error, match) -> None:
    root = write_transfer_dir(tmp_path)
    table = root / "transfer_labels.csv"
    table.write_text(edit(table.read_text()))
    with pytest.raises(error, match=match):
        load_transfer_set(root)


def test_load_transfer_set_needs_the_table(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="transfer_labels.csv"):
        load_transfer_set(tmp_path)


def test_split_keeps_folds_apart_and_names_a_missing_fold(data) -> None:
    train, test = data.split(2)
    assert set(train).isdisjoint(test) and len(train) + len(test) == len(data)
    assert (data.folds[test] == 2).all() and (data.folds[train] != 2).all()
    with pytest.raises(ValueError, match="fold 7"):
        data.split(7)


def test_transfer_set_checks_its_arrays() -> None:
    with pytest.raises(ValueError, match="index"):
        TransferSet(np.zeros((2, 10)), np.array([0, 3]), np.array([1, 1]), ("a", "b"), ["x", "y"])
    with pytest.raises(ValueError, match="labels, folds and names"):
        TransferSet(np.zeros((2, 10)), np.array([0]), np.array([1, 1]), ("a", "b"), ["x", "y"])


# ------------------------------------------------------------------------------ the models
def test_pretrained_transfer_model_keeps_the_body_and_gets_a_new_head(checkpoint) -> None:
    original = load_checkpoint(checkpoint).state_dict()
    model = transfer_model(checkpoint, classes_num=3, seed=4)
    state = model.state_dict()
    assert model.fc_audioset.out_features == 3 and model.spec_augment is not None
    assert all(torch.equal(state[k], v) for k, v in original.items() if not k.startswith("fc_audioset."))
    again = transfer_model(checkpoint, classes_num=3, seed=4).fc_audioset.weight
    other = transfer_model(checkpoint, classes_num=3, seed=5).fc_audioset.weight
    assert torch.equal(model.fc_audioset.weight, again) and not torch.equal(again, other)


def test_scratch_transfer_model_is_freshly_initialised(checkpoint) -> None:
    original = load_checkpoint(checkpoint).state_dict()
    scratch = transfer_model(checkpoint, classes_num=3, pretrained=False, spec_augment=False)
    state = scratch.state_dict()
    assert scratch.spec_augment is None
    assert not torch.equal(state["conv_block1.conv1.weight"], original["conv_block1.conv1.weight"])
    assert original["bn0.running_mean"].abs().min() > 1 and (original["bn0.weight"] == 1.5).all()
    assert not state["bn0.running_mean"].any() and (state["bn0.running_var"] == 1).all()
    assert (state["bn0.weight"] == 1).all() and not state["conv_block3.bn1.bias"].any()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes == {
        **{k: tuple(v.shape) for k, v in original.items()},
        "fc_audioset.weight": (3, 32),
        "fc_audioset.bias": (3,),
    }


def test_embeddings_are_the_eval_mode_embedding_in_order(checkpoint, logmels) -> None:
    model = transfer_model(checkpoint, classes_num=3).train()
    emb = embeddings(model, logmels, np.array([5, 0, 7]), batch_size=2)
    assert model.training  # the mode is restored
    x, _, _ = logmels.get_batch([5, 0, 7])
    with torch.no_grad():
        expected = model.eval().forward_features(x)["embedding"].numpy()
    np.testing.assert_allclose(emb, expected, rtol=1e-5, atol=1e-6)
    assert embeddings(model, logmels).shape == (len(logmels), 32)
    with pytest.raises(ValueError):
        embeddings(model, logmels, batch_size=0)


def test_clipwise_is_the_taggers_eval_mode_output_before_any_new_head(checkpoint, logmels) -> None:
    from panns_lite.transfer import clipwise

    model = load_checkpoint(checkpoint).train()
    out = clipwise(model, logmels, np.array([3, 1]), batch_size=2)
    assert model.training
    x, _, _ = logmels.get_batch([3, 1])
    with torch.no_grad():
        expected = model.eval().forward_features(x)["clipwise_output"].numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-7)
    assert out.shape == (2, 527)


# ------------------------------------------------------------------------------ probe and metrics
def test_linear_probe_separates_separable_features() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    x = rng.standard_normal((30, 5)) + 4 * np.eye(3, 5)[y]
    train, test = np.arange(30) % 3 != 0, np.arange(30) % 3 == 0
    predicted = linear_probe(x[train], y[train], x[test])
    assert accuracy(predicted, y[test]) == 1.0
    with pytest.raises(ValueError, match="two classes"):
        linear_probe(x[:5], np.zeros(5), x[:2])
    with pytest.raises(ValueError):
        linear_probe(x[:, :4], y, x)


def test_accuracy_counts_matches_and_checks_shapes() -> None:
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    with pytest.raises(ValueError):
        accuracy(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError):
        accuracy(np.array([]), np.array([]))


def test_nll_is_panns_clip_nll() -> None:
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 2, 1, 2])
    expected = F.nll_loss(F.log_softmax(logits, dim=1), labels) / 3  # mean over batch and classes
    assert nll(logits, F.one_hot(labels, 3).float()).item() == pytest.approx(expected.item())


# ------------------------------------------------------------------------------ fine-tuning
def test_fine_tuning_learns_the_tones(checkpoint, data, logmels) -> None:
    train, test = data.split(2)
    model = transfer_model(checkpoint, classes_num=3, spec_augment=False)
    result = fine_tune(model, logmels, train, FineTuneConfig(epochs=8, batch_size=4, lr=1e-3), test)
    assert result.model is model and not model.training
    assert [row["epoch"] for row in result.history] == list(range(1, 9))
    assert [row["iteration"] for row in result.history] == [3 * e for e in range(1, 9)]  # 12 clips / 4
    assert all(row["train_loss"] > 0 for row in result.history)
    final = result.history[-1]["accuracy"]
    assert final == accuracy(predict_classes(model, logmels, test), data.labels[test])
    assert final >= 2 / 3  # three classes: chance is 1/3


def test_fine_tuning_is_repeatable_and_seeded(checkpoint, data, logmels) -> None:
    train = data.split(1)[0][:11]  # steps of 10 clips with mixup: 10, then 1 (odd, dropped)

    def run(seed: int, mixup: bool) -> dict[str, torch.Tensor]:
        model = transfer_model(checkpoint, classes_num=3, seed=0)
        return fine_tune(
            model, logmels, train, FineTuneConfig(epochs=1, batch_size=5, seed=seed, mixup=mixup)
        ).model.state_dict()

    a, b, c = run(0, False), run(0, False), run(1, False)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    d, e = run(0, True), run(0, True)
    assert all(torch.equal(d[k], e[k]) for k in d) and not all(torch.equal(a[k], d[k]) for k in a)


def test_fine_tuning_refuses_a_mismatched_head_and_bad_settings(checkpoint, logmels) -> None:
    model = transfer_model(checkpoint, classes_num=5)
    with pytest.raises(ValueError, match="classes_num"):
        fine_tune(model, logmels, np.arange(4), FineTuneConfig(epochs=1))
    with pytest.raises(ValueError, match="training clips"):
        fine_tune(
            transfer_model(checkpoint, classes_num=3), logmels, np.array([], dtype=int), FineTuneConfig()
        )
    for bad in (dict(epochs=0), dict(batch_size=0), dict(lr=0.0), dict(mixup_alpha=0.0)):
        with pytest.raises(ValueError):
            FineTuneConfig(**bad)


def test_zero_shot_proxies_are_the_nearest_trained_relatives_and_predict_by_their_best_output():
    from panns_lite.audioset import load_class_labels
    from panns_lite.transfer import zero_shot_predict, zero_shot_proxies

    labels = load_class_labels()
    idx = labels.index_of_name
    trained = np.zeros(len(labels), bool)
    trained[
        [idx("Domestic animals, pets"), idx("Cat"), idx("Brass instrument"), idx("Breathing"), idx("Dog")]
    ] = True  # Dog is trained here but is one of the new classes: never a proxy
    proxies = zero_shot_proxies(["Dog", "Trumpet", "Cough"], trained)
    assert proxies == [
        sorted([idx("Domestic animals, pets"), idx("Cat")]),
        [idx("Brass instrument")],
        [idx("Breathing")],
    ]
    clipwise = np.zeros((3, len(labels)))
    clipwise[0, idx("Cat")] = 0.9  # a dog clip that sounds like a cat: the Dog proxies win
    clipwise[1, idx("Brass instrument")] = 0.4
    clipwise[2, idx("Breathing")] = 0.2
    assert zero_shot_predict(clipwise, proxies).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="no trained relative"):
        zero_shot_proxies(["Thunder"], trained)  # nothing trained among the natural sounds
    trained[idx("Dog")] = False
    with pytest.raises(ValueError, match="same zero-shot proxies"):
        zero_shot_proxies(["Dog", "Cat"], trained)  # both sit under the same trained parent
    with pytest.raises(ValueError, match="trained must be"):
        zero_shot_proxies(["Dog"], trained[:10])
