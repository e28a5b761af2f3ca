import gzip
import hashlib

import numpy as np
import pytest

from fnnet import datasets, random
from fnnet.datasets import read_idx, write_idx


def test_iris():
    x, y = datasets.load_iris()
    assert x.shape == (150, 4) and x.dtype == np.float32
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [50, 50, 50]
    np.testing.assert_allclose(x[0], [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_allclose(x[-1], [5.9, 3.0, 5.1, 1.8])
    assert y[0] == 0 and y[-1] == 2
    np.testing.assert_allclose(x.mean(0), [5.8433, 3.0573, 3.758, 1.1993], atol=1e-3)


def test_digits():
    x, y = datasets.load_digits()
    assert x.shape == (1797, 8, 8, 1) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    # pixels are counts 0..16 scaled by 1/16
    np.testing.assert_array_equal(x * 16, np.round(x * 16))
    assert y[:10].tolist() == list(range(10))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


# sha256 of the arrays in data/digits.npz, taken once from scikit-learn's load_digits()
# (data/README.md): images as uint8 counts 0..16, labels as int64. Pinning them checks the
# shipped data on every run, without installing scikit-learn.
DIGITS_IMAGES_SHA256 = "8f26b2bd9d135c256808f68f14fdabddde6d9c7f869ae419704b051f0f14b3b3"
DIGITS_LABELS_SHA256 = "a3c91c262eddcf7ba8f0e37507c30284493c9b20412ffe4af30d536401f7ba21"


def test_digits_match_their_checksums():
    x, y = datasets.load_digits()
    counts = (x[..., 0] * 16).astype(np.uint8)
    assert hashlib.sha256(counts.tobytes()).hexdigest() == DIGITS_IMAGES_SHA256
    assert hashlib.sha256(y.astype(np.int64).tobytes()).hexdigest() == DIGITS_LABELS_SHA256
    assert int(counts.sum()) == 561718


@pytest.mark.parametrize(
    ("make", "n", "k"),
    [
        (datasets.make_moons, 101, 2),
        (datasets.make_circles, 100, 2),
        (datasets.make_spirals, 90, 3),
    ],
)
def test_synthetic_shapes_and_keys(make, n, k):
    x, y = make(random.key(0), n=n)
    assert x.shape == (n, 2) and x.dtype == np.float32 and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == k and counts.max() - counts.min() <= 1
    x2, y2 = make(random.key(0), n=n)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = make(random.key(1), n=n)
    assert not np.array_equal(x, x3)


def test_moons_and_circles_geometry_without_noise():
    x, y = datasets.make_moons(random.key(0), n=200, noise=0.0)
    upper = x[y == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, rtol=1e-6)
    lower = x[y == 1]
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, rtol=1e-6)
    x, y = datasets.make_circles(random.key(0), n=200, noise=0.0, factor=0.3)
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, rtol=1e-6)


def test_spirals_arms():
    x, y = datasets.make_spirals(random.key(0), n=300, num_classes=5, noise=0.0)
    assert np.bincount(y).tolist() == [60] * 5
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(r[y == 2], np.linspace(0, 1, 60), atol=1e-6)
    # the outer end of arm c sits at angle 2 pi (c / K + turns)
    end = x[y == 1][-1]
    angle = 2 * np.pi * (1 / 5 + 0.65)
    np.testing.assert_allclose(end, [np.cos(angle), np.sin(angle)], atol=1e-6)


def test_synthetic_errors():
    with pytest.raises(ValueError, match="make_circles: factor"):
        datasets.make_circles(random.key(0), factor=1.5)
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        datasets.make_spirals(random.key(0), num_classes=1)
    with pytest.raises(ValueError, match="make_moons: noise"):
        datasets.make_moons(random.key(0), noise=-1)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / f"a-idx3-ubyte{suffix}"
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def test_idx_header_bytes(tmp_path):
    path = tmp_path / "labels"
    write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])


def _mnist_folder(folder, n_train=12, n_test=5, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    folder.mkdir(exist_ok=True)
    for name, a in arrays.items():
        write_idx(folder / (name + suffix), a)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_folder(tmp_path, gz):
    arrays = _mnist_folder(tmp_path / "mnist", gz=gz)
    (xtr, ytr), (xte, yte) = datasets.load_idx_folder(tmp_path / "mnist")
    assert xtr.shape == (12, 28, 28, 1) and xtr.dtype == np.float32
    assert xte.shape == (5, 28, 28, 1)
    np.testing.assert_allclose(xtr[..., 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-4)
    assert ytr.dtype == np.int64 and ytr.tolist() == [*range(10), 0, 1]
    assert yte.tolist() == [0, 1, 2, 3, 4]


def test_gzip_recognised_by_content(tmp_path):
    raw = tmp_path / "plain"
    write_idx(raw, np.arange(5, dtype=np.uint8))
    hidden = tmp_path / "hidden"
    hidden.write_bytes(gzip.compress(raw.read_bytes()))
    np.testing.assert_array_equal(read_idx(hidden), np.arange(5))


def test_missing_file_is_named(tmp_path):
    _mnist_folder(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        datasets.load_idx_folder(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        datasets.load_idx_folder(tmp_path / "nowhere")


def test_malformed_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="bad: not an IDX file"):
        read_idx(bad)
    bad.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(ValueError, match="unknown IDX element type 0x42"):
        read_idx(bad)
    bad.write_bytes(bytes([0, 0, 8, 2, 0, 0]))
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(bad)
    bad.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 4, 1, 2]))
    with pytest.raises(ValueError, match=r"shape \(4,\) \(12 bytes\), but the file has 10 bytes"):
        read_idx(bad)
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x05")[:-6])
    with pytest.raises(ValueError, match="bad: damaged gzip data"):
        read_idx(bad)


def test_folder_with_mismatched_counts(tmp_path):
    _mnist_folder(tmp_path / "m", gz=False)
    write_idx(tmp_path / "m" / "train-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="3 labels for 12 images"):
        datasets.load_idx_folder(tmp_path / "m")
    write_idx(tmp_path / "m" / "train-labels-idx1-ubyte", np.zeros((12, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"expected labels \(N,\)"):
        datasets.load_idx_folder(tmp_path / "m")


def test_registry_lists_every_dataset_once():
    assert list(datasets.DATASETS) == ["iris", "digits", "moons", "circles", "spirals", "idx"]
    assert datasets.dataset_help() == "iris, digits, moons, circles, spirals[:K], idx:FOLDER"
    for name, info in datasets.DATASETS.items():
        assert info.name == name and info.kind in ("tabular", "images") and info.description
        assert set(info.defaults) == {"model", "optimizer", "lr", "batch_size", "epochs"}
    (x, y), test = datasets.load_dataset("spirals:4", random.key(0))
    assert test is None and x.shape == (1500, 2) and int(y.max()) == 3
    assert datasets.parse_dataset("spirals:375") == ("spirals", "375")
    for bad, message in [("spirals:376", "K from 2 to 375"), ("spirals:", "empty K"),
                         ("moons:3", "moons takes no argument"), ("idx", "expected idx:FOLDER"),
                         ("cifar", "unknown dataset 'cifar'")]:  # fmt: skip
        with pytest.raises(ValueError, match=message):
            datasets.parse_dataset(bad)
