"""Scoring files of (query, document) pairs offline: ``crossrank score``.

:mod:`~crossrank.batch.formats` reads and writes Parquet, JSONL and TSV pair files in chunks;
:mod:`~crossrank.batch.runner` scores them chunk by chunk into a folder beside the output, so an
interrupted run resumes where it stopped, and joins the chunks in input order at the end. Chunks are
scored in this process or, with :mod:`crossrank.integrations.ray`, by Ray actors.
"""
