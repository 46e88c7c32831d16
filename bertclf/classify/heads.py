"""Classifier heads on embeddings: fitted with scikit-learn or XGBoost, kept as plain arrays.

A fitted head is frozen into a ``Head``: named float64 arrays (or XGBoost's own JSON) plus a few
lines of numpy that turn vectors into probabilities. The same arrays and the same code serve
before saving and after loading, so a loaded model predicts exactly what the fitted one did, and
saving needs neither pickle nor any code on the way back in.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertclf.classify.settings import HEADS
from bertclf.errors import InputError, SpecError

LOADABLE_HEADS = (*HEADS, "linear")  # "linear": the softmax layer trained with a fine-tuned encoder
SAFETENSORS_FILE = "head.safetensors"
XGBOOST_FILE = "head.xgboost.json"


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function in numpy (scipy stays out of the runtime); exp never overflows."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


SMALL_PRODUCT = 1 << 22  # multiply-adds up to which a head's product skips BLAS (about 3 ms in numpy)


def product(X: np.ndarray, W: np.ndarray, transposed: bool = True) -> np.ndarray:
    """X @ W.T (or X @ W), without BLAS when small. OpenBLAS threads even a product of 32 rows by
    a 384 x 77 head, and its threads then spin for a while on the cores the encoder's next call
    needs: predicting 32 texts a call ran a third slower for it (benchmarks/small_calls.py).
    numpy's own loops (``einsum``) take no thread and give the same sums to about 1e-14. Sparse
    rows (TF-IDF in the full install) multiply without BLAS already."""
    if not isinstance(X, np.ndarray) or X.shape[0] * W.size > SMALL_PRODUCT:
        return X @ W.T if transposed else X @ W
    return np.einsum("ij,kj->ik" if transposed else "ij,jk->ik", X, W, optimize=False)


@dataclass
class Head:
    """A fitted head: ``name``, its class (or label) count and its weights; ``predict_proba`` is
    numpy only. A ``multilabel`` head gives each label its own independent probability."""

    name: str
    n_classes: int
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    booster_json: bytes | None = None
    multilabel: bool = False
    _booster: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One memory layout before saving and after loading: BLAS may round F- and C-order apart.
        self.tensors = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in self.tensors.items()}

    def predict_proba(self, X: Any) -> np.ndarray:
        X = as_matrix(X)
        if self.name == "xgboost":
            return _xgboost_proba(self, X)
        if self.multilabel:
            return _MULTI_PROBA[self.name](self.tensors, X)
        return _PROBA[self.name](self.tensors, X, self.n_classes)

    @property
    def task(self) -> str:
        return "multi-label" if self.multilabel else "single-label"

    @property
    def filename(self) -> str:
        return XGBOOST_FILE if self.name == "xgboost" else SAFETENSORS_FILE

    def to_bytes(self) -> bytes:
        """The weight file's content: safetensors, or XGBoost's JSON model."""
        if self.name == "xgboost":
            assert self.booster_json is not None
            return self.booster_json
        from safetensors.numpy import save

        return save(self.tensors)

    def to_files(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        return ({"name": self.name, "n_classes": self.n_classes, "multilabel": self.multilabel},
                {self.filename: self.to_bytes()})

    @classmethod
    def from_files(cls, settings: dict[str, Any], files: dict[str, bytes]) -> Head:
        name = settings["name"]
        if name not in LOADABLE_HEADS or len(files) != 1:
            raise ValueError(f"unknown head {name!r}")
        return cls.from_bytes(name, int(settings["n_classes"]), next(iter(files.values())),
                              bool(settings["multilabel"]))

    @classmethod
    def from_bytes(cls, name: str, n_classes: int, data: bytes, multilabel: bool = False) -> Head:
        """Rebuild a head from its weight file; raises ValueError when the bytes do not parse."""
        if name == "xgboost":
            return _load_booster(cls(name, n_classes, booster_json=data, multilabel=multilabel))
        from safetensors.numpy import load

        return cls(name, n_classes, tensors=dict(load(data)), multilabel=multilabel)

    def check(self, dim: int) -> None:
        """Shapes must agree with the embedding width and class count (catches edited configs)."""
        one_output = self.n_classes == 2 and self.name != "linear" and not self.multilabel
        outputs = 1 if one_output else self.n_classes
        if self.name == "xgboost":
            got_dim = int(self._booster.num_features())
            if got_dim != dim:
                raise ValueError(f"the booster expects {got_dim} features, the embedder gives {dim}")
            return
        if self.name == "mlp":  # weights are (inputs, outputs) per layer
            layers = _mlp_layers(self.tensors)
            inputs, out = layers[0][0].shape[0], layers[-1][0].shape[1]
        else:  # one (outputs, inputs) matrix
            out, inputs = self.tensors["weight"].shape
        if inputs != dim:
            raise ValueError(f"the head's weights expect {inputs} inputs, the embedder gives {dim}")
        if out != outputs:
            raise ValueError(f"the head has {out} outputs but {self.n_classes} labels are listed")


def check_head_params(name: str, C: float = 1.0, class_weight: str | None = None) -> None:
    """Refuse a bad head, C or class weight before any embedding is done."""
    if name not in HEADS:
        raise SpecError(f"unknown head {name!r}: use one of {', '.join(HEADS)}")
    if class_weight not in (None, "balanced"):
        raise SpecError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    if not (isinstance(C, numbers.Real) and not isinstance(C, bool) and C > 0):
        raise SpecError(f"C must be a positive number, got {C!r}")


def fit_head(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    C: float = 1.0,
    class_weight: str | None = None,
    params: dict[str, Any] | None = None,
    random_state: int | None = 0,
) -> Head:
    """Fit head ``name`` on vectors X and class indices y (0..n_classes-1, all present)."""
    check_head_params(name, C, class_weight)
    X = as_matrix(X)
    return _FIT[name](X, np.asarray(y), n_classes, float(C), class_weight, dict(params or {}),
                      random_state)


def fit_multilabel_head(
    name: str,
    X: np.ndarray,
    Y: np.ndarray,
    C: float = 1.0,
    class_weight: str | None = None,
    params: dict[str, Any] | None = None,
    random_state: int | None = 0,
) -> Head:
    """Fit head ``name`` on vectors X and an (n, L) 0/1 matrix Y: one-vs-rest binary heads for
    logreg and svm, one network with a sigmoid per label for mlp and xgboost. A label never or
    always present gets a constant probability (its prevalence)."""
    check_head_params(name, C, class_weight)
    X, Y = as_matrix(X), np.asarray(Y, dtype=np.int64)
    n_labels = Y.shape[1]
    if name == "mlp":
        if class_weight is not None:
            raise SpecError("class_weight is not available for the multi-label mlp head; use logreg or svm")
        head = _fit_mlp(X, Y, 2, float(C), None, dict(params or {}), random_state)
        return Head("mlp", n_labels, head.tensors, multilabel=True)
    if name == "xgboost":
        head = _fit_xgboost(X, Y, 2, float(C), class_weight, dict(params or {}), random_state)
        return _load_booster(Head("xgboost", n_labels, booster_json=head.booster_json, multilabel=True))
    rows = []
    for j in range(n_labels):
        prevalence = float(Y[:, j].mean())
        if Y[:, j].min() == Y[:, j].max():
            logit = float(np.log(np.clip(prevalence, 1e-3, 1 - 1e-3) / np.clip(1 - prevalence, 1e-3, 1)))
            rows.append({"weight": np.zeros((1, X.shape[1])), "bias": np.array([logit]),
                         "platt_a": np.array([-1.0]), "platt_b": np.array([0.0])})
            continue
        fitted = _FIT[name](X, Y[:, j], 2, float(C), class_weight, dict(params or {}), random_state)
        rows.append(fitted.tensors)
    keys = ("weight", "bias") if name == "logreg" else ("weight", "bias", "platt_a", "platt_b")
    return Head(name, n_labels, {k: np.concatenate([r[k] for r in rows]) for k in keys}, multilabel=True)


# -- logistic regression -------------------------------------------------------------------------


def _fit_logreg(X, y, n_classes, C, class_weight, params, seed) -> Head:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, class_weight=class_weight, max_iter=params.pop("max_iter", 2000),
                               random_state=seed, **params)
    _fit_quietly(model.fit, X, y)
    return Head("logreg", n_classes, {"weight": model.coef_, "bias": model.intercept_})


def _logreg_proba(t, X, n_classes) -> np.ndarray:
    scores = product(X, t["weight"]) + t["bias"]
    if n_classes == 2:
        p = expit(scores[:, 0])
        return np.column_stack([1.0 - p, p])
    return softmax(scores, axis=1)


def _sigmoid_linear_proba(t, X) -> np.ndarray:
    """Multi-label logreg and fine-tuned layers: an independent sigmoid per label."""
    return expit(product(X, t["weight"]) + t["bias"])


def _multi_svm_proba(t, X) -> np.ndarray:
    return expit(-(t["platt_a"] * (product(X, t["weight"]) + t["bias"]) + t["platt_b"]))


def _multi_mlp_proba(t, X) -> np.ndarray:
    return expit(_mlp_scores(t, X))


def _linear_proba(t, X, n_classes) -> np.ndarray:
    """A fine-tuned model's own layer: one logit per class, always softmax (binary too)."""
    return softmax(product(X, t["weight"]) + t["bias"], axis=1)


# -- linear SVM with Platt scaling ----------------------------------------------------------------


def _fit_svm(X, y, n_classes, C, class_weight, params, seed) -> Head:
    """LinearSVC, then per-class sigmoids fitted on cross-validated scores for probabilities."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.svm import LinearSVC

    svc = LinearSVC(C=C, class_weight=class_weight, random_state=seed,
                    max_iter=params.pop("max_iter", 5000), **params)
    smallest = int(np.bincount(y, minlength=n_classes).min())
    if smallest >= 2:
        calibrated = CalibratedClassifierCV(svc, method="sigmoid", cv=min(3, smallest), ensemble=False)
        _fit_quietly(calibrated.fit, X, y)
    else:  # a class with one example: calibrate on the training scores themselves (one "split"
        # whose both halves are every row: scikit-learn 1.9 cross-validates even a frozen one)
        _fit_quietly(svc.fit, X, y)
        everything = [(np.arange(len(y)), np.arange(len(y)))]
        calibrated = CalibratedClassifierCV(FrozenEstimator(svc), method="sigmoid", cv=everything)
        _fit_quietly(calibrated.fit, X, y)
    inner = calibrated.calibrated_classifiers_[0]
    svc = getattr(inner.estimator, "estimator", inner.estimator)  # unwrap FrozenEstimator
    return Head("svm", n_classes, {
        "weight": svc.coef_, "bias": svc.intercept_,
        "platt_a": np.array([c.a_ for c in inner.calibrators], dtype=np.float64),
        "platt_b": np.array([c.b_ for c in inner.calibrators], dtype=np.float64),
    })


def _svm_proba(t, X, n_classes) -> np.ndarray:
    scores = product(X, t["weight"]) + t["bias"]
    p = expit(-(t["platt_a"] * scores + t["platt_b"]))
    if n_classes == 2:
        return np.column_stack([1.0 - p[:, 0], p[:, 0]])
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1.0 / n_classes), where=total != 0)


# -- multi-layer perceptron -----------------------------------------------------------------------


def _fit_mlp(X, y, n_classes, C, class_weight, params, seed) -> Head:
    """One ReLU hidden layer by default; C sets the L2 penalty as alpha = 1 / C (logreg's sense)."""
    from sklearn.neural_network import MLPClassifier

    hidden = params.pop("hidden_layer_sizes", (256,))
    early = params.pop("early_stopping", len(y) >= 1000)
    model = MLPClassifier(hidden_layer_sizes=hidden, alpha=params.pop("alpha", 1e-4 / C),
                          early_stopping=early, max_iter=params.pop("max_iter", 200),
                          random_state=seed, **params)
    _fit_quietly(model.fit, X, y, sample_weight=_balanced_weights(y, class_weight))
    tensors = {}
    for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_, strict=True)):
        tensors[f"layers.{i}.weight"], tensors[f"layers.{i}.bias"] = w, b
    return Head("mlp", n_classes, tensors)


def _mlp_layers(t: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    count = sum(1 for k in t if k.endswith(".weight"))
    return [(t[f"layers.{i}.weight"], t[f"layers.{i}.bias"]) for i in range(count)]


def _mlp_scores(t, X) -> np.ndarray:
    """The network's output layer before its sigmoid or softmax (ReLU hidden layers)."""
    layers = _mlp_layers(t)
    h = X
    for w, b in layers[:-1]:
        h = np.maximum(product(h, w, transposed=False) + b, 0.0)
    return product(h, layers[-1][0], transposed=False) + layers[-1][1]


def _mlp_proba(t, X, n_classes) -> np.ndarray:
    scores = _mlp_scores(t, X)
    if n_classes == 2:
        p = expit(scores[:, 0])
        return np.column_stack([1.0 - p, p])
    return softmax(scores, axis=1)


# -- gradient-boosted trees -----------------------------------------------------------------------


def _fit_xgboost(X, y, n_classes, C, class_weight, params, seed) -> Head:
    try:
        import xgboost
    except ImportError:
        raise SpecError("the xgboost head needs XGBoost: pip install xgboost-cpu (or xgboost)") from None
    settings = {"n_estimators": 300, "learning_rate": 0.1, "max_depth": 6, "tree_method": "hist",
                "random_state": seed or 0, **params}
    model = xgboost.XGBClassifier(**settings)
    model.fit(X, y, sample_weight=_balanced_weights(y, class_weight))
    raw = bytes(model.get_booster().save_raw(raw_format="json"))
    # Predict from the saved JSON itself, so the loaded model matches the fitted one bit for bit.
    return _load_booster(Head("xgboost", n_classes, booster_json=raw))


def _load_booster(head: Head) -> Head:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(head.booster_json or b""))
    head._booster = booster
    return head


def _xgboost_proba(head: Head, X: np.ndarray) -> np.ndarray:
    if hasattr(X, "to_scipy"):  # the runtime's TF-IDF rows (classify.sparse)
        X = X.to_scipy()
    p = np.asarray(head._booster.inplace_predict(X.astype(np.float32)), dtype=np.float64)
    if head.multilabel:
        return p.reshape(X.shape[0], head.n_classes)
    if head.n_classes == 2:
        p = p.reshape(-1)
        return np.column_stack([1.0 - p, p])
    return p.reshape(X.shape[0], head.n_classes)


# -- shared --------------------------------------------------------------------------------------


def as_matrix(X: Any) -> Any:
    """float64 rows for the heads: dense stays dense, and sparse TF-IDF stays sparse (CSR).
    Sparse is recognised by duck type, so predicting never imports scipy."""
    if hasattr(X, "tocsr"):
        return X.tocsr().astype(np.float64, copy=False)
    return np.asarray(X, dtype=np.float64)


def _balanced_weights(y: np.ndarray, class_weight: str | None) -> np.ndarray | None:
    if class_weight != "balanced":
        return None
    from sklearn.utils.class_weight import compute_sample_weight

    return compute_sample_weight("balanced", y)


def _fit_quietly(fit: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Fit without ConvergenceWarning noise (iteration limits are generous already); a bad
    parameter becomes one InputError line."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="The least populated class")  # handled by caller
        try:
            fit(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            raise InputError(f"the head could not be fitted: {exc}") from None


_FIT = {"logreg": _fit_logreg, "svm": _fit_svm, "mlp": _fit_mlp, "xgboost": _fit_xgboost}
_MULTI_PROBA = {"logreg": _sigmoid_linear_proba, "linear": _sigmoid_linear_proba, "svm": _multi_svm_proba,
                "mlp": _multi_mlp_proba}
_PROBA = {"logreg": _logreg_proba, "svm": _svm_proba, "mlp": _mlp_proba, "linear": _linear_proba}
