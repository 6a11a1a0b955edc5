"""Drop-ins for the APIs rerankers are called through today, on crossrank's engine.

- :mod:`crossrank.integrations.sentence_transformers`: ``CrossEncoder``, sentence-transformers'
  class (``predict``, ``rank``), exported as ``crossrank.CrossEncoder``;
- :mod:`crossrank.integrations.langchain`: a LangChain ``BaseCrossEncoder`` for
  ``CrossEncoderReranker`` (extra ``[langchain]``);
- :mod:`crossrank.integrations.llama_index`: a LlamaIndex node postprocessor (extra ``[llamaindex]``);
- :mod:`crossrank.integrations.ray`: a ``Scorer`` for Ray Data's ``map_batches`` and the Ray actors
  behind ``crossrank score --ray`` (extra ``[ray]``);
- :mod:`crossrank.integrations.model_folder`: what every one of them loads: a bundle as it is, a
  Hugging Face folder exported once and cached under ``$CROSSRANK_HOME``.

Importing this package loads none of the frameworks; each adapter imports its framework when its
class is first used.
"""
