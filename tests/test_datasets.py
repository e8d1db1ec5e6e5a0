"""Clip datasets (reference §5): packed HDF5 and folder give the same items, batches keep order and
duplicates, HDF5 handles survive DataLoader workers, bad inputs fail clearly; the log-mel cache equals
the front end and refuses to be reused with another front end or dataset."""

import pickle

import h5py
import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from panns_lite import datasets
from panns_lite.audio import CLIP_SAMPLES, PANNS_SAMPLE_RATE, AudioReadError
from panns_lite.audioset import Segment, write_segments
from panns_lite.datasets import ClipDataset, FolderDataset, LogMelCache, PackedDataset
from panns_lite.features import LogMel
from panns_lite.packing import pack

SR = PANNS_SAMPLE_RATE
SPEECH, MUSIC, DOG = "/m/09x0r", "/m/04rlf", "/m/0bt9lr"
ROWS = [  # CSV order; rows 2, 4 and 6 have no usable audio
    ("goodclip__1", (SPEECH,)),
    ("missingfil2", (MUSIC,)),
    ("goodclip__3", (DOG, MUSIC)),
    ("corruptwav4", (DOG,)),
    ("flaccclip_5", (SPEECH, DOG)),
    ("emptywav__6", (MUSIC,)),
    ("goodclip__7", (MUSIC,)),
]
GOOD = ["Ygoodclip__1.wav", "Ygoodclip__3.wav", "Yflaccclip_5.wav", "Ygoodclip__7.wav"]
INT16_STEP = 1 / 32767


def write_csv(path, rows):
    write_segments(
        path, [Segment(ytid, 0.0, 10.0, mids) for ytid, mids in rows], "2017-01-01 00:00:00 (test)"
    )
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Short clips for ROWS, their CSV, the packed file and the folder dataset."""
    root = tmp_path_factory.mktemp("clips")
    audio = root / "audio"
    audio.mkdir()
    rng = np.random.default_rng(0)
    for ytid in ("goodclip__1", "goodclip__3", "goodclip__7"):
        sf.write(
            audio / f"Y{ytid}.wav", rng.uniform(-0.5, 0.5, SR // 4).astype(np.float32), SR, subtype="FLOAT"
        )
    sf.write(audio / "Yflaccclip_5.flac", rng.uniform(-0.5, 0.5, SR // 4), SR)
    (audio / "Ycorruptwav4.wav").write_bytes(rng.bytes(2048))
    sf.write(audio / "Yemptywav__6.wav", np.zeros(0, np.float32), SR)
    csv = write_csv(root / "segments.csv", ROWS)
    h5_path = root / "packed.h5"
    pack(csv, audio, h5_path)
    return {
        "root": root,
        "audio": audio,
        "csv": csv,
        "h5": h5_path,
        "packed": PackedDataset(h5_path),
        "folder": FolderDataset(csv, audio),
    }


@pytest.fixture(params=["packed", "folder"])
def dataset(request, corpus) -> ClipDataset:
    return corpus[request.param]


def test_both_datasets_give_the_same_items(corpus):
    packed, folder = corpus["packed"], corpus["folder"]
    assert packed.names == folder.names == GOOD
    assert len(packed) == len(folder) == 4 and packed.sample_rate == folder.sample_rate == SR
    np.testing.assert_array_equal(packed.targets, folder.targets)
    for i in range(len(packed)):
        (wave_p, target_p, name_p), (wave_f, target_f, name_f) = packed[i], folder[i]
        assert wave_p.dtype == wave_f.dtype == target_p.dtype == np.float32
        assert wave_p.shape == (CLIP_SAMPLES,) and target_p.shape == (527,)
        assert name_p == name_f and np.array_equal(target_p, target_f)
        assert np.abs(wave_p - wave_f).max() <= INT16_STEP / 2 + 1e-7  # int16 rounding only
        assert np.any(wave_p) and not np.any(wave_p[SR // 4 :])  # zero-padded at the end to 10 s


def test_targets_are_read_only_bool(dataset):
    assert dataset.targets.dtype == bool and dataset.targets.shape == (4, 527)
    assert dataset.targets[:, 0].tolist() == [True, False, True, False]  # Speech
    with pytest.raises(ValueError):
        dataset.targets[0, 0] = False


def test_get_batch_keeps_order_and_duplicates(dataset):
    waves, targets, names = dataset.get_batch([2, 0, 2, 3])
    assert waves.dtype == targets.dtype == torch.float32
    assert waves.shape == (4, CLIP_SAMPLES) and targets.shape == (4, 527)
    assert names == [GOOD[2], GOOD[0], GOOD[2], GOOD[3]]
    for row, i in enumerate([2, 0, 2, 3]):
        np.testing.assert_array_equal(waves[row].numpy(), dataset[i][0])
        np.testing.assert_array_equal(targets[row].numpy(), dataset[i][1])
    assert dataset.get_batch(np.array([1]))[2] == [GOOD[1]]
    assert dataset.get_batch(torch.tensor([3, 3]))[2] == [GOOD[3]] * 2


@pytest.mark.parametrize(
    "bad, error", [([4], IndexError), ([-1], IndexError), ([], ValueError), ([[0]], ValueError)]
)
def test_bad_indices(dataset, bad, error):
    with pytest.raises(error):
        dataset.get_batch(bad)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_packed_dataset_reads_in_workers_after_first_access(corpus, context):
    dataset = PackedDataset(corpus["h5"])
    first = dataset[1]  # opens the HDF5 file in this process
    loader = DataLoader(dataset, batch_size=2, num_workers=1, multiprocessing_context=context)
    waves, targets, names = next(iter(loader))
    np.testing.assert_array_equal(waves[1].numpy(), first[0])
    assert list(names) == GOOD[:2] and targets.shape == (2, 527)
    copy = pickle.loads(pickle.dumps(dataset))
    np.testing.assert_array_equal(copy[1][0], first[0])


def test_folder_dataset_skips_unusable_rows_at_construction(corpus):
    skipped = dict(corpus["folder"].skipped)
    assert list(skipped) == ["Ymissingfil2.wav", "Ycorruptwav4.wav", "Yemptywav__6.wav"]
    assert "no Ymissingfil2.* file" in skipped["Ymissingfil2.wav"]
    assert (
        "cannot decode" in skipped["Ycorruptwav4.wav"] and "Ycorruptwav4.wav" in skipped["Ycorruptwav4.wav"]
    )
    assert "no samples" in skipped["Yemptywav__6.wav"]


def test_folder_dataset_names_a_file_that_fails_at_access(corpus, tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "Ygoodclip__1.wav", np.zeros(100, np.float32), SR)
    dataset = FolderDataset(write_csv(tmp_path / "one.csv", ROWS[:1]), audio)
    (audio / "Ygoodclip__1.wav").unlink()
    with pytest.raises(AudioReadError, match="Ygoodclip__1.wav"):
        dataset.get_batch([0])


def test_packed_dataset_errors(corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.h5"):
        PackedDataset(tmp_path / "nothere.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        PackedDataset(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["data"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a PANNs packed file"):
        PackedDataset(tmp_path / "other.h5")
    unfinished = tmp_path / "unfinished.h5"
    with h5py.File(unfinished, "w") as h5:
        h5.create_group("_pack")
    with pytest.raises(ValueError, match="unfinished packing"):
        PackedDataset(unfinished)


def test_empty_datasets_are_refused(corpus, tmp_path):
    csv = write_csv(tmp_path / "missing.csv", ROWS[1:2])
    pack(csv, corpus["audio"], tmp_path / "empty.h5")
    with pytest.raises(ValueError, match="empty dataset"):
        PackedDataset(tmp_path / "empty.h5")
    with pytest.raises(ValueError, match="empty dataset"):
        FolderDataset(csv, corpus["audio"])


# --------------------------------------------------------------------------- log-mel cache
class ShortClips(ClipDataset):
    """Random 0.25 s waveforms: LogMel pads them to 32 frames, so caching them is fast."""

    def __init__(self, n: int = 5, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.waves = rng.uniform(-0.5, 0.5, (n, SR // 4)).astype(np.float32)
        super().__init__(
            rng.random((n, 527)) < 0.1, [f"Yshort{seed}_{i}.wav" for i in range(n)], SR, "short clips"
        )

    def _rows(self, sorted_unique):
        return self.waves[sorted_unique]


@pytest.fixture(scope="module")
def frontend():
    return LogMel()


def test_float32_cache_equals_the_front_end(frontend):
    clips = ShortClips()
    cache = LogMelCache.build(clips, frontend, batch_size=2, dtype=torch.float32)
    logmel, targets, names = cache.get_batch([3, 1, 3])
    expected = frontend(torch.from_numpy(clips.waves[[3, 1, 3]]))
    assert logmel.shape == (3, 1, 32, 64) and logmel.dtype == torch.float32
    assert torch.equal(logmel, expected) and cache.rounding_error_db == 0.0
    assert names == [clips.names[i] for i in (3, 1, 3)]
    np.testing.assert_array_equal(targets.numpy(), clips.targets[[3, 1, 3]])
    assert cache[2][0].shape == (1, 32, 64)


def test_float16_cache_is_within_its_rounding(frontend):
    clips = ShortClips()
    cache = LogMelCache.build(clips, frontend)
    error = (cache.get_batch(range(5))[0] - frontend(torch.from_numpy(clips.waves))).abs().max().item()
    assert error == pytest.approx(cache.rounding_error_db) and 0 < error <= 1 / 32


def test_packed_dataset_cache_gives_full_clips(corpus, frontend):
    cache = LogMelCache.build(corpus["packed"], frontend, batch_size=3)
    assert len(cache) == 4 and cache.names == GOOD and cache.get_batch([0])[0].shape == (1, 1, 1001, 64)
    np.testing.assert_array_equal(cache.targets, corpus["packed"].targets)


def test_file_cache_round_trip_and_reuse(frontend, tmp_path, monkeypatch):
    clips, path = ShortClips(), tmp_path / "cache" / "logmel.npy"
    built = LogMelCache.build(clips, frontend, batch_size=2, path=path)
    assert path.is_file() and path.with_name("logmel.npy.json").is_file()
    assert not path.with_name("logmel.npy.partial").exists()
    monkeypatch.setattr(datasets, "_frontend_output", None)  # reopening must not run the front end
    reopened = LogMelCache.build(clips, frontend, path=path)
    assert isinstance(reopened._store, np.memmap) and reopened.rounding_error_db == built.rounding_error_db
    assert torch.equal(reopened.get_batch([4, 0])[0], built.get_batch([4, 0])[0])
    shipped = pickle.dumps(reopened)
    assert len(shipped) < 10_000  # the file is reopened, not copied
    assert torch.equal(pickle.loads(shipped).get_batch([1])[0], built.get_batch([1])[0])


@pytest.mark.parametrize(
    "change, what",
    [
        ({"frontend": LogMel(n_mels=32)}, "frontend"),
        ({"frontend": LogMel(min_frames=40)}, "frontend"),
        ({"dataset": ShortClips(seed=1)}, "dataset"),
        ({"dtype": torch.float32}, "dtype"),
    ],
)
def test_file_cache_refuses_another_front_end_or_dataset(frontend, tmp_path, change, what):
    path = tmp_path / "logmel.npy"
    LogMelCache.build(ShortClips(), frontend, path=path)
    kwargs = {"dataset": ShortClips(), "frontend": frontend, "path": path} | change
    with pytest.raises(ValueError, match=f"another {what}"):
        LogMelCache.build(**kwargs)


def test_interrupted_file_cache_is_rebuilt(frontend, tmp_path):
    path = tmp_path / "logmel.npy"
    LogMelCache.build(ShortClips(), frontend, path=path)
    path.with_name("logmel.npy.json").unlink()  # as if killed before the record was written
    cache = LogMelCache.build(ShortClips(seed=1), frontend, path=path)
    assert cache.names == ShortClips(seed=1).names


def test_cache_build_checks_its_arguments(frontend):
    with pytest.raises(ValueError, match="dtype"):
        LogMelCache.build(ShortClips(), frontend, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="batch_size"):
        LogMelCache.build(ShortClips(), frontend, batch_size=0)
    with pytest.raises(ValueError, match=r"\(B, 1, T, M\)"):
        LogMelCache.build(ShortClips(), torch.nn.Identity())


def test_changed_audio_under_the_same_names_never_reuses_a_cache(corpus, frontend, tmp_path):
    import hashlib
    import shutil

    import h5py

    with h5py.File(corpus["h5"], "r") as h5:
        assert h5.attrs["waveform_sha256"] == hashlib.sha256(h5["waveform"][:].tobytes()).hexdigest()
    audio = tmp_path / "audio"
    shutil.copytree(corpus["audio"], audio)
    sf.write(audio / "Ygoodclip__3.wav", np.full(SR // 4, 0.25, np.float32), SR, subtype="FLOAT")  # new audio
    changed = PackedDataset(pack(corpus["csv"], audio, tmp_path / "changed.h5").out_path)
    original = corpus["packed"]
    assert changed.fingerprint() == original.fingerprint()  # same names and targets
    assert changed.content_key() != original.content_key()
    path = tmp_path / "logmel.npy"
    LogMelCache.build(original, frontend, path=path)
    with pytest.raises(ValueError, match="another content"):
        LogMelCache.build(changed, frontend, path=path)
    panns_packed = tmp_path / "panns.h5"  # a file packed by PANNs' own code has no digest: size and mtime
    shutil.copy(corpus["h5"], panns_packed)
    with h5py.File(panns_packed, "r+") as h5:
        del h5.attrs["waveform_sha256"]
    assert PackedDataset(panns_packed).content_key().startswith("stat:")


def test_a_cache_beside_a_packed_file_is_built_once_and_named_by_its_dtype(tiny_packed, frontend):
    data = PackedDataset(tiny_packed["eval"])
    first = LogMelCache.beside(data, frontend, torch.float32)
    assert first.path.parent == data.path.parent and ".logmel-float32-" in first.path.name
    built = first.path.stat().st_mtime_ns
    again = LogMelCache.beside(PackedDataset(tiny_packed["eval"]), frontend, torch.float32)
    assert again.path == first.path and again.path.stat().st_mtime_ns == built  # opened, not rebuilt
    in_memory = LogMelCache.build(data, frontend, dtype=torch.float32)
    index = np.arange(len(data))
    assert torch.equal(again.get_batch(index)[0], in_memory.get_batch(index)[0])
    half = LogMelCache.beside(data, frontend, torch.float16)
    assert half.path != first.path and ".logmel-float16-" in half.path.name
