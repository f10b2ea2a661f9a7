"""Retrieval metrics against naive loops; the contrastive dual encoder learns paired data."""

import numpy as np
import pytest

from mmscratch import backend, gradcheck, metrics, nn
from mmscratch.multimodal import DualEncoder

TOL = 1e-6


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def naive_recall_at_k(s, k):
    hits = 0
    for i in range(s.shape[0]):
        larger = 0
        for j in range(s.shape[1]):
            if s[i, j] > s[i, i]:
                larger += 1
        hits += larger < k
    return hits / s.shape[0]


def naive_precision_at_k(s, q, g, k):
    total = 0.0
    for i in range(s.shape[0]):
        order = sorted(range(s.shape[1]), key=lambda j: (-s[i, j], j))
        total += sum(g[j] == q[i] for j in order[:k]) / k
    return total / s.shape[0]


@pytest.mark.parametrize("k", [1, 2, 5])
def test_recall_at_k_matches_a_naive_loop_with_ties(xp, k):
    # integer scores make many ties, including ties with the match
    s = np.random.default_rng(k).integers(0, 4, size=(12, 12)).astype(np.float64)
    assert metrics.recall_at_k(backend.asarray(s), k) == pytest.approx(naive_recall_at_k(s, k))
    s = rand(12, 12, seed=k)
    assert metrics.recall_at_k(backend.asarray(s), k) == pytest.approx(naive_recall_at_k(s, k))


def test_recall_at_k_ties_count_for_the_match(xp):
    s = backend.asarray(np.ones((4, 4)))  # everything tied: fewer than 1 strictly larger
    assert metrics.recall_at_k(s, 1) == 1.0
    s = backend.asarray(np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0], [2.0, 0.0, 1.0]]))
    # row 0: two larger -> only R@3; row 1: none larger; row 2: one larger
    assert metrics.recall_at_k(s, 1) == pytest.approx(1 / 3)
    assert metrics.recall_at_k(s, 2) == pytest.approx(2 / 3)
    assert metrics.recall_at_k(s, 3) == 1.0


@pytest.mark.parametrize("k", [1, 3, 7])
def test_precision_at_k_matches_a_naive_loop(xp, k):
    rng = np.random.default_rng(k)
    s = rng.integers(0, 5, size=(9, 14)).astype(np.float64)
    q, g = rng.integers(0, 3, size=9), rng.integers(0, 3, size=14)
    got = metrics.precision_at_k(backend.asarray(s), backend.asarray(q), backend.asarray(g), k)
    assert got == pytest.approx(naive_precision_at_k(s, q, g, k))


def test_retrieval_metrics_refuse_bad_input(xp):
    with pytest.raises(ValueError, match="square"):
        metrics.recall_at_k(backend.asarray(rand(3, 4)), 1)
    with pytest.raises(ValueError, match="at most the gallery size 3"):
        metrics.recall_at_k(backend.asarray(rand(3, 3)), 4)
    with pytest.raises((TypeError, ValueError), match="'k'"):
        metrics.recall_at_k(backend.asarray(rand(3, 3)), 0)
    with pytest.raises(ValueError, match="query_labels needs 3"):
        metrics.precision_at_k(backend.asarray(rand(3, 4)), backend.asarray(np.arange(2)),
                               backend.asarray(np.arange(4)), 1)


def paired_set(n=24, seed=0):
    """Two views of the same latent points: a noisy linear map and a tanh of another."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 6))
    a = z @ rng.standard_normal((6, 10)) + 0.05 * rng.standard_normal((n, 10))
    b = np.tanh(z @ rng.standard_normal((6, 8)) / 2)
    labels = (z[:, 0] > 0).astype(np.int64)
    return {"a": a.astype(np.float32), "b": b.astype(np.float32)}, labels


def small_encoder(seed=0, learnable=True):
    return DualEncoder({"a": [nn.Dense(16, activation="tanh", seed=seed),
                              nn.Dense(8, seed=seed + 1)],
                        "b": [nn.Dense(16, activation="tanh", seed=seed + 2),
                              nn.Dense(8, seed=seed + 3)]},
                       nn.InfoNCELoss(0.1, learnable=learnable))


def test_seeded_dual_encoder_reaches_perfect_retrieval_on_synthetic_pairs(xp):
    x, _ = paired_set()
    enc = small_encoder()
    history = enc.fit(x, epochs=150, batch_size=24, optimizer=nn.Adam(1e-2), seed=0)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    s = enc.similarity("a", x["a"], "b", x["b"])
    assert metrics.recall_at_k(s, 1) == 1.0  # a -> b
    assert metrics.recall_at_k(s.T, 1) == 1.0  # b -> a


def test_zero_shot_prototypes_classify_the_other_modality(xp):
    x, y = paired_set(n=40, seed=1)
    enc = small_encoder(seed=3)
    enc.fit(x, epochs=100, batch_size=20, optimizer=nn.Adam(1e-2), seed=0)
    classes, protos = enc.class_prototypes("a", x["a"], y)
    assert backend.to_numpy(classes).tolist() == [0, 1]
    np.testing.assert_allclose(np.linalg.norm(backend.to_numpy(protos), axis=1), 1.0, rtol=1e-5)
    pred = backend.to_numpy(enc.zero_shot_predict("b", x["b"]))
    assert (pred == y).mean() > 0.9  # labels of "a" only; "b" never saw one


def test_gradients_through_both_towers_and_the_temperature(xp):
    x, _ = paired_set(n=5)
    enc = small_encoder(learnable=True)
    xs = {k: backend.asarray(v.astype(np.float64)) for k, v in x.items()}
    enc.forward(xs)
    gradcheck.to_float64(enc.towers["a"])
    gradcheck.to_float64(enc.towers["b"])
    enc.loss.params["logit_scale"] = enc.loss.params["logit_scale"].astype(np.float64)

    def f():
        return enc.loss.forward(*enc.forward(xs))

    f()
    dx = enc.backward(enc.loss.backward())
    results = {}
    for owner, key in enc.parameters():
        label = f"{owner.name}.{key}"
        results[label] = gradcheck.rel_error(
            owner.grads[key], gradcheck.numerical_gradient(f, owner.params[key]), label)
    for k in xs:
        results[k] = gradcheck.rel_error(dx[k], gradcheck.numerical_gradient(f, xs[k]), k)
    gradcheck.assert_gradcheck(results, TOL)


def test_dual_encoder_refuses_bad_input(xp):
    enc = small_encoder()
    x, _ = paired_set(n=6)
    with pytest.raises(ValueError, match="keys"):
        enc.fit({"a": x["a"]}, epochs=1)
    with pytest.raises(ValueError, match="same number of samples"):
        enc.fit({"a": x["a"], "b": x["b"][:5]}, epochs=1)
    with pytest.raises(ValueError, match="unknown modality"):
        enc.encode("c", x["a"])
    with pytest.raises(ValueError, match="NotFitted|class_prototypes"):
        enc.zero_shot_predict("b", x["b"])
