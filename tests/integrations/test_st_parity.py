"""crossrank.CrossEncoder against sentence-transformers' CrossEncoder on the same model folders:
predict for every activation and output type, rank, and the same bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from integration_cases import DOCS, PAIRS, QUERY

pytest_plugins = ["integration_fixtures"]  # its fixtures: crossrank_home, hf_folder, models

torch = pytest.importorskip("torch")

TOLERANCE = 1e-4  # fp32: crossrank's engine vs PyTorch
ACTIVATIONS = {
    "default": None,
    "Sigmoid": lambda: torch.nn.Sigmoid(),
    "Identity": lambda: torch.nn.Identity(),
    "Tanh": lambda: torch.nn.Tanh(),
    "Softmax(dim=1)": lambda: torch.nn.Softmax(dim=1),
    "a lambda (called on a torch tensor)": lambda: (lambda x: 2.0 * x - 1.0),
}
OUTPUTS = {"numpy": {}, "tensor": {"convert_to_tensor": True}, "list of tensors": {"convert_to_numpy": False}}
INPUTS = {"pairs": PAIRS, "pairs as lists": [list(pair) for pair in PAIRS[:4]], "one pair": PAIRS[0],
          "one pair as a list": list(PAIRS[1]), "a numpy pair": np.array(PAIRS[2])}


def _assert_same(ours, theirs, where: str) -> None:
    """Same type, shape, dtype and values within TOLERANCE (lists compared item by item)."""
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} vs {type(theirs).__name__}"
    if isinstance(theirs, list):
        assert len(ours) == len(theirs), where
        for index, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{index}]")
        return
    a = ours.numpy() if isinstance(ours, torch.Tensor) else np.asarray(ours)
    b = theirs.numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.shape == b.shape and a.dtype == b.dtype, f"{where}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    np.testing.assert_allclose(a, b, atol=TOLERANCE, rtol=0, err_msg=where)


@pytest.mark.parametrize("apply_softmax", [False, True])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_predict_equals_sentence_transformers(models, activation, apply_softmax):
    st, ours = models
    make = ACTIVATIONS[activation]
    for output, options in OUTPUTS.items():
        for name, inputs in INPUTS.items():
            kwargs = dict(options, apply_softmax=apply_softmax)
            if make is not None:
                kwargs["activation_fn"] = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # crossrank reports the truncated pair; ST does not
                expected = st.predict(inputs, **kwargs)
                got = ours.predict(inputs, **kwargs)
            _assert_same(got, expected, f"{activation}, apply_softmax={apply_softmax}, {output}, {name}")


@pytest.mark.parametrize("output", list(OUTPUTS))
def test_empty_input_gives_what_sentence_transformers_gives(models, output):
    st, ours = models
    _assert_same(ours.predict([], **OUTPUTS[output]), st.predict([], **OUTPUTS[output]), output)


def test_legacy_argument_names_work_as_there(models):
    st, ours = models
    _assert_same(ours.predict(sentences=PAIRS[:3], activation_fct=torch.nn.Identity()),
                 st.predict(sentences=PAIRS[:3], activation_fct=torch.nn.Identity()), "sentences, activation_fct")


@pytest.mark.parametrize("top_k", [None, 3, 0, 100])
@pytest.mark.parametrize("return_documents", [False, True])
def test_rank_returns_the_same_list_of_dicts(models, top_k, return_documents):
    st, ours = models
    if st.num_labels != 1:
        with pytest.raises(ValueError, match="only works for models with num_labels=1"):
            st.rank(QUERY, DOCS)
        with pytest.raises(ValueError, match="only works for models with num_labels=1"):
            ours.rank(QUERY, DOCS)
        return
    for options in ({}, {"activation_fn": torch.nn.Identity()}, {"convert_to_tensor": True}):
        expected = st.rank(QUERY, DOCS, top_k=top_k, return_documents=return_documents, **options)
        got = ours.rank(QUERY, DOCS, top_k=top_k, return_documents=return_documents, **options)
        assert [list(hit) for hit in got] == [list(hit) for hit in expected]  # keys, in their order
        assert [hit["corpus_id"] for hit in got] == [hit["corpus_id"] for hit in expected]
        assert [hit.get("text") for hit in got] == [hit.get("text") for hit in expected]
        for a, b in zip(got, expected):
            _assert_same(a["score"], b["score"], f"rank {options}")


def test_rank_of_no_documents_is_empty(models):
    st, ours = models
    if st.num_labels == 1:
        assert ours.rank(QUERY, []) == st.rank(QUERY, []) == []


BAD_PREDICT = {
    "a document that is None": [("q", None)],
    "a document that is a number": [("q", 3)],
    "a triple": [("a", "b", "c")],
}


@pytest.mark.parametrize("case", list(BAD_PREDICT))
def test_bad_pairs_fail_in_both_and_crossrank_names_the_pair(models, case):
    """sentence-transformers raises ValueError("Unsupported input type: NoneType ..."); crossrank a
    TypeError that says which pair and which side."""
    st, ours = models
    with pytest.raises(ValueError):
        st.predict(BAD_PREDICT[case])
    with pytest.raises(TypeError, match="pair 0"):
        ours.predict(BAD_PREDICT[case])


def test_batch_size_zero_fails_in_both(models):
    st, ours = models
    for model in models:
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            model.predict(PAIRS[:2], batch_size=0)


def test_inputs_sentence_transformers_takes_silently_are_refused_clearly(models):
    """Each of these runs in sentence-transformers and gives something the caller did not mean."""
    st, ours = models
    st.predict("one string")  # scored as one text, not a (query, document) pair
    with pytest.raises(TypeError, match="pair 0 must be a .query, document. tuple"):
        ours.predict("one string")
    if st.num_labels == 1:
        assert len(st.rank(QUERY, "abc")) == 3  # ranks the string's characters
        with pytest.raises(TypeError, match="documents must be a list of str"):
            ours.rank(QUERY, "abc")
        assert len(st.rank(QUERY, DOCS, top_k=-1)) == len(DOCS) - 1  # drops the last one
        with pytest.raises(ValueError, match="top_k must be"):
            ours.rank(QUERY, DOCS, top_k=-1)
    st.predict(PAIRS[:1], prompt="query: ")  # crossrank has no prompts: it says so
    with pytest.raises(ValueError, match="prompt is not supported"):
        ours.predict(PAIRS[:1], prompt="query: ")


@pytest.mark.parametrize("kwargs, match", [
    ({"device": "cuda"}, "device must be None or 'cpu'"),
    ({"pool": {}}, "pool is not supported"),
    ({"chunk_size": 10}, "chunk_size is not supported"),
    ({"prompt_name": "query"}, "prompt_name is not supported"),
    ({"processing_kwargs": {}}, "does not support processing_kwargs"),
    ({"activation_fn": "relu"}, "activation_fn must be a callable"),
    ({"activation_fn": 3}, "activation_fn must be a callable"),
])
def test_unsupported_predict_arguments_raise_naming_them(models, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        models[1].predict(PAIRS[:2], **kwargs)


def test_activation_names_are_accepted_too(models):
    _, ours = models
    np.testing.assert_allclose(ours.predict(PAIRS[:3], activation_fn="none"),
                               ours.predict(PAIRS[:3], activation_fn=torch.nn.Identity()), atol=0)


def test_show_progress_bar_shows_a_bar_over_pairs(models, capfd):
    _, ours = models
    ours.predict(PAIRS[:3], show_progress_bar=True)
    assert "3/3" in capfd.readouterr().err
    ours.predict(PAIRS[:3], show_progress_bar=False)
    assert "3/3" not in capfd.readouterr().err
