"""``crossrank serve``: a rerank server speaking Cohere (v1, v2), Jina and TEI, with one fair queue.

Modules, one concept each: ``settings`` (every option), ``scheduler`` (the one token-bounded queue and
its worker thread), ``service`` (tokenize once, submit, wait), ``schemas`` (request and response
models), ``errors`` (every error as JSON), ``metrics`` (Prometheus), ``middleware`` (body limit, UTF-8,
auth, draining, request counts), ``routes``, ``app`` (the FastAPI factory) and ``run`` (uvicorn with a
SIGTERM drain). FastAPI, uvicorn, pydantic and prometheus-client are imported inside functions, so that
``import crossrank`` (and every module here) loads without the ``[serve]`` extra.
"""
