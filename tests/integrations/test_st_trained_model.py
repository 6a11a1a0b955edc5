"""crossrank.CrossEncoder against sentence-transformers on a trained cross-encoder (../shared's
minilm-l6-ce-distilled: the shape of cross-encoder/ms-marco-MiniLM-L-6-v2); skipped without it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from integration_cases import DOCS, PAIRS, QUERY, crossrank_home_set
from fixture_helpers import SHARED_MODELS, _need_export_extra

from crossrank.bundle import is_bundle
from crossrank.export.pipeline import export_bundle
from crossrank.integrations.model_folder import cached_bundle_dir
from crossrank.integrations.sentence_transformers import CrossEncoder

pytest_plugins = ["integration_fixtures"]  # its fixtures: crossrank_home, hf_folder, models

FOLDER = SHARED_MODELS / "minilm-l6-ce-distilled"


@pytest.fixture(scope="module")
def models(crossrank_home_dir):
    if not (FOLDER / "config.json").is_file():
        pytest.skip(f"{FOLDER} is not here")
    _need_export_extra()
    st = pytest.importorskip("sentence_transformers")
    with crossrank_home_set(crossrank_home_dir):
        target = cached_bundle_dir(FOLDER)
        if not is_bundle(target):  # put the export where CrossEncoder looks, without the gate's minutes-long
            export_bundle(FOLDER, target, progress=False, gate=False)  # search: fp32 is what is compared
        ours = CrossEncoder(FOLDER, precision="fp32", progress=False)
    return st.CrossEncoder(str(FOLDER), device="cpu"), ours


def test_predict_and_rank_equal_sentence_transformers_on_a_trained_model(models):
    torch = pytest.importorskip("torch")
    st, ours = models
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the overlong pair's TruncationWarning
        np.testing.assert_allclose(ours.predict(PAIRS), st.predict(PAIRS), atol=1e-4, rtol=0)
        logits = ours.predict(PAIRS, activation_fn=torch.nn.Identity())
        np.testing.assert_allclose(logits, st.predict(PAIRS, activation_fn=torch.nn.Identity()), atol=1e-4, rtol=0)
    assert np.ptp(logits) > 1.0  # scores that spread: the comparison could fail
    expected = st.rank(QUERY, DOCS, return_documents=True)
    got = ours.rank(QUERY, DOCS, return_documents=True)
    assert [(h["corpus_id"], h["text"]) for h in got] == [(h["corpus_id"], h["text"]) for h in expected]
