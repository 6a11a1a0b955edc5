#!/usr/bin/env python3
"""Fuzz crossrank's tokenizers against Hugging Face ``tokenizers`` for a fixed time budget.

    python scripts/fuzz_tokenizer.py --seconds 600 [--seed 7] [--algorithms wordpiece,unigram,bpe]
                                     [--engine random|atheris] [--json FILE]

Each round picks one of several tokenizer configurations of the chosen algorithms, a truncation
strategy and a random ``max_length``, generates adversarial pairs and compares ids, type ids and
the truncation flags pair by pair with HF (the reference; ``tests/engine/tokenizer_cases.py``).
WordPiece: MiniLM's ``tokenizer.json``, its normalizer variants, extra added tokens, a tiny
``max_input_chars_per_word``. Unigram: XLM-RoBERTa-structured files (a SentencePiece model trained
and converted as the Unigram tests build them; needs sentencepiece and transformers), with byte
fallback, with extra added tokens. BPE: ModernBERT- and RoBERTa-structured byte-level BPE files (a
BPE trained as the BPE tests build them), with NFC or no normalizer, a prefix space, extra added tokens.
Texts mix random code points from every plane (unassigned and private-use too), combining-mark
runs, control characters, NUL, whitespace runs, CJK, RTL with bidi marks, emoji ZWJ sequences,
words far past ``max_input_chars_per_word`` and the algorithm's own edge cases (multilingual
sentences and SentencePiece corners for Unigram, the GPT-2 regex's corners for BPE). Every round
also plants a lone surrogate in one pair, which must raise the ``ValueError`` naming that pair. A
crash ends the process (the pytest wrapper, tests/engine/test_fuzz_budget.py, reports it with the seed).

``--engine atheris`` feeds libFuzzer's mutated bytes through the same checks instead (needs
``pip install atheris``). Without a clang build of ``_native`` libFuzzer sees no coverage of the
C++ code, so it mutates blind; the structured random engine is the default for that reason.

Prints one JSON line (seed, seconds, configurations, rounds, pairs and texts checked, mismatches,
the first few differing inputs); exit status 1 when anything differed or an error was not the
expected one, 2 when an algorithm's reference cannot be built (a package missing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1] / "tests" / "engine"
sys.path[:0] = [str(TESTS), str(TESTS / "tokenizer_unigram")]  # the tests' tokenizer.json builders
import tokenizer_cases as cases  # noqa: E402

from crossrank.tokenizer import Tokenizer  # noqa: E402

RTL = ["مرحبا بالعالم", "שלום עולם", "\u202bעברית\u202c", "\u200fالعربية\u200e", "\u2067abc\u2069", "ﷺ", "ﻻ"]
ZWJ = ["👩\u200d💻", "👨\u200d👩\u200d👧", "🧑🏿\u200d🤝\u200d🧑🏻", "🏴\u200d☠️", "\u200d\u200d", "a\u200db"]
NUL_RUNS = ["\x00", "\x00" * 7, "a\x00b", "\x00[SEP]\x00"]
MAX_WINDOWS = 2000  # per pair, in HF's reference run
# Extra added tokens (ids after the file's largest): raw with lstrip, raw single_word, and two
# normalized=true ones, matched by their normalized content ("cafe\u0301" is "café" after NFC).
ADDED = [dict(content="<mark>", single_word=False, lstrip=True, rstrip=False, normalized=False, special=True),
         dict(content="foo", single_word=True, lstrip=False, rstrip=False, normalized=False, special=False),
         dict(content="Über", single_word=False, lstrip=False, rstrip=False, normalized=True, special=False),
         dict(content="cafe\u0301", single_word=False, lstrip=False, rstrip=True, normalized=True, special=False)]
ADDED_TEXT = ["<mark>", " <mark> ", "foo", "foobar", " foo.", "Über", "über", "ÜBER", "Ü\u0308ber",
              "café", "cafe\u0301 ", "CAFÉ  x"]
ALGORITHMS = ("wordpiece", "unigram", "bpe")


def with_added(config: dict) -> None:
    """ADDED appended to a tokenizer.json's added tokens, with ids after every id it has."""
    vocab = config["model"]["vocab"]
    ids = vocab.values() if isinstance(vocab, dict) else range(len(vocab))
    first = max([*ids, *(t["id"] for t in config["added_tokens"])]) + 1
    config["added_tokens"].extend(dict(token, id=first + i) for i, token in enumerate(ADDED))


def import_cases(algorithm: str):
    """The test module that builds ``algorithm``'s tokenizer.json files; SystemExit(2) naming what
    is missing when its packages are not installed (the module skips, as under pytest)."""
    name = {"wordpiece": "tokenizer_cases", "unigram": "unigram_cases", "bpe": "bpe_cases"}[algorithm]
    try:
        return __import__(name)
    except pytest.skip.Exception as e:
        print(f"fuzz_tokenizer: --algorithms {algorithm} cannot build its reference: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def wordpiece_configs(folder: Path) -> dict[str, str]:
    """name -> tokenizer.json path: edits of MiniLM's file."""
    edits = {
        "minilm": lambda c: None,
        "cased": lambda c: c["normalizer"].update(lowercase=False, strip_accents=False),
        "strip_only": lambda c: c["normalizer"].update(lowercase=False, strip_accents=True),
        "no_clean_no_chinese": lambda c: c["normalizer"].update(clean_text=False, handle_chinese_chars=False),
        "added_tokens": with_added,
        "max_chars_8": lambda c: c["model"].update(max_input_chars_per_word=8),
    }
    return {name: cases.tokenizer_variant(folder, name, edit) for name, edit in edits.items()}


def unigram_configs(folder: Path) -> dict[str, str]:
    """XLM-R-structured files: plain, with byte fallback, with ADDED."""
    unigram = import_cases("unigram")
    plain = unigram.build_xlmr_tokenizer_json(folder / "xlmr", byte_fallback=False)
    config = json.loads(Path(plain).read_text(encoding="utf-8"))
    with_added(config)
    added = folder / "xlmr_added_tokens.json"
    added.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return {"xlmr": plain, "xlmr_byte_fallback": unigram.build_xlmr_tokenizer_json(folder / "xlmr_bf", True),
            "xlmr_added_tokens": str(added)}


def bpe_configs(folder: Path) -> dict[str, str]:
    """Byte-level BPE files: ModernBERT's structure (NFC, no normalizer, with ADDED), RoBERTa's with a prefix space."""
    bpe = import_cases("bpe")
    base = bpe.train_byte_level_bpe(vocab_size=2000)
    added = bpe.modernbert_like(base)
    with_added(added)
    configs = {"bpe_nfc": bpe.modernbert_like(base), "bpe_no_normalizer": bpe.modernbert_like(base, normalizer=None),
               "bpe_added_tokens": added, "bpe_roberta_prefix_space": bpe.roberta_like(base, add_prefix_space=True)}
    return {name: bpe.write_json(folder, name, config) for name, config in configs.items()}


BUILDERS = {"wordpiece": wordpiece_configs, "unigram": unigram_configs, "bpe": bpe_configs}


def base_text(rng: random.Random, max_pieces: int, algorithm: str) -> str:
    """The tests' generator for the algorithm: BERT's mix; multilingual sentences and SentencePiece
    corners (Unigram); the GPT-2 regex's corners spliced in (BPE)."""
    if algorithm == "unigram":
        return import_cases("unigram").multilingual_text(rng, max_pieces)
    text = cases.random_text(rng, max_pieces)
    if algorithm == "bpe" and rng.random() < 0.5:
        regex_cases = import_cases("bpe").REGEX_CASES
        text += rng.choice(regex_cases) + " " * rng.randrange(6) + rng.choice(regex_cases)
    return text


def any_plane_cp(rng: random.Random) -> str:
    """A code point from a random plane (0-16), never a surrogate."""
    plane = rng.randrange(17)
    cp = plane << 16 | rng.randrange(0x10000)
    return chr(cp) if not 0xD800 <= cp <= 0xDFFF else "\ufffd"


def adversarial_piece(rng: random.Random) -> str:
    """One piece beyond tokenizer_cases' generator: planes, RTL, ZWJ, NUL, huge words, runs."""
    kind = rng.randrange(9)
    if kind == 8:
        return rng.choice(ADDED_TEXT)
    if kind == 0:
        return "".join(any_plane_cp(rng) for _ in range(rng.randrange(1, 12)))
    if kind == 1:
        return rng.choice(RTL)
    if kind == 2:
        return rng.choice(ZWJ)
    if kind == 3:
        return rng.choice(NUL_RUNS)
    if kind == 4:  # huge word, sometimes with combining marks that the normalizer may strip
        word = "".join(rng.choice("abcxyzé中\u0301") for _ in range(rng.randrange(90, 3000)))
        return word
    if kind == 5:
        return "".join(rng.choice(cases.WHITESPACE) for _ in range(rng.randrange(1, 40)))
    if kind == 6:
        return "".join(rng.choice(cases.CJK) for _ in range(rng.randrange(1, 5)))
    return rng.choice("aeo") + "".join(rng.choice(cases.COMBINING) for _ in range(rng.randrange(5, 60)))


def adversarial_text(rng: random.Random, max_pieces: int, algorithm: str) -> str:
    """The algorithm's test generator (base_text) with this script's pieces spliced in."""
    parts = [base_text(rng, max_pieces, algorithm)]
    for _ in range(rng.randrange(4)):
        at = rng.randrange(len(parts) + 1)
        parts.insert(at, adversarial_piece(rng) + rng.choice(("", " ", "\t")))
    return "".join(parts)


def random_round(rng: random.Random, count: int, algorithm: str,
                 shortest: int) -> tuple[list[tuple[str, str]], int, str]:
    """``count`` pairs, a max_length (a third of them from ``shortest`` to 16: truncation edges) and a
    strategy. Texts are shorter for a small max_length: HF's reference materializes every overflow window."""
    max_length = rng.choice((rng.randrange(shortest, 17), rng.randrange(17, 129), rng.randrange(129, 513)))
    q_sizes, d_sizes = ((0, 2, 4), (0, 3, 8)) if max_length < 17 else ((0, 3, 12, 40), (0, 5, 30, 110))
    pairs = [(adversarial_text(rng, rng.choice(q_sizes), algorithm),
              adversarial_text(rng, rng.choice(d_sizes), algorithm)) for _ in range(count)]
    return pairs, max_length, rng.choice(cases.STRATEGIES)


def affordable(pairs: list[tuple[str, str]], lengths, max_length: int) -> list[int]:
    """Indices of the pairs whose HF reference stays small (longest_first's overflow windows are
    the product of both sides' windows: a long pair under max_length=4 makes millions)."""
    window = max(1, (max_length - 3) // 2)
    return [i for i, (q, d) in enumerate(zip(*lengths)) if (q // window + 1) * (d // window + 1) <= MAX_WINDOWS]


class Checker:
    """The configurations (ours and HF's) and the running totals."""

    def __init__(self, folder: Path, algorithms: tuple[str, ...] = ALGORITHMS):
        self.configs = {}
        self.algorithm = {}  # config name -> its algorithm
        for algorithm in algorithms:
            for name, path in BUILDERS[algorithm](folder).items():
                self.configs[name] = (Tokenizer.from_file(path), cases.hf_from_file(path))
                self.algorithm[name] = algorithm
        self.totals = {"rounds": 0, "pairs": 0, "texts": 0, "surrogate_checks": 0, "mismatches": 0,
                       "skipped_costly": 0}
        self.examples: list[dict] = []

    def shortest(self, name: str) -> int:
        """The smallest max_length a pair fits in: the template's special tokens and one token."""
        return self.configs[name][1].num_special_tokens_to_add(is_pair=True) + 1

    def check(self, name: str, pairs: list[tuple[str, str]], max_length: int, strategy: str) -> None:
        """Pairs (ids, type ids, flags) and every text on its own (ids), against HF."""
        ours, hf = self.configs[name]
        lengths = (cases.hf_lengths(hf, [q for q, _ in pairs]), cases.hf_lengths(hf, [d for _, d in pairs]))
        keep = affordable(pairs, lengths, max_length)
        self.totals["skipped_costly"] += len(pairs) - len(keep)
        pairs, lengths = [pairs[i] for i in keep], tuple([side[i] for i in keep] for side in lengths)
        expected = cases.hf_expected(hf, pairs, max_length, strategy, lengths)
        got = ours.encode_pairs(pairs, max_length=max_length, truncation=strategy)
        for pair, g, e in zip(pairs, got, expected):
            if (g.ids, g.type_ids, g.truncated, g.query_truncated) != e:
                self._record(dict(config=name, pair=pair, max_length=max_length, strategy=strategy,
                                  ours=[g.ids, g.type_ids, g.truncated, g.query_truncated], hf=list(e)))
        texts = [t for pair in pairs for t in pair]
        hf.no_truncation()
        for text, e in zip(texts, hf.encode_batch(texts, add_special_tokens=False)):
            if ours.encode(text) != e.ids:
                self._record(dict(config=name, text=text, ours=ours.encode(text), hf=e.ids))
        self.totals["rounds"] += 1
        self.totals["pairs"] += len(pairs)
        self.totals["texts"] += len(texts)

    def check_surrogate(self, rng: random.Random, name: str, pairs: list[tuple[str, str]]) -> None:
        """A lone surrogate planted in one pair: ValueError naming that pair and side."""
        i, side = rng.randrange(len(pairs)), rng.randrange(2)
        text = pairs[i][side]
        at = rng.randrange(len(text) + 1)
        bad = list(pairs)
        bad[i] = tuple(text[:at] + chr(rng.randrange(0xD800, 0xE000)) + text[at:] if s == side else pairs[i][s]
                       for s in range(2))
        want = f"pair {i}: {('query', 'document')[side]}"
        try:
            self.configs[name][0].encode_pairs(bad)
            self._record(dict(config=name, surrogate_in=want, error=None))
        except ValueError as e:
            if want not in str(e):
                self._record(dict(config=name, surrogate_in=want, error=str(e)))
        self.totals["surrogate_checks"] += 1

    def _record(self, example: dict) -> None:
        self.totals["mismatches"] += 1
        if len(self.examples) < 5:
            self.examples.append(example)


def run_random(checker: Checker, seed: int, seconds: float, pairs_per_round: int) -> None:
    rng = random.Random(seed)
    names = sorted(checker.configs)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        name = rng.choice(names)
        pairs, max_length, strategy = random_round(rng, pairs_per_round, checker.algorithm[name],
                                                   checker.shortest(name))
        checker.check(name, pairs, max_length, strategy)
        checker.check_surrogate(rng, name, pairs)


def run_atheris(checker: Checker, seed: int, seconds: float, report) -> None:
    """libFuzzer drives the inputs; ends the process itself when the budget is spent."""
    import atheris

    names = sorted(checker.configs)
    deadline = time.monotonic() + seconds

    def one_input(data: bytes) -> None:
        if time.monotonic() > deadline:
            report()
            os._exit(1 if checker.totals["mismatches"] else 0)
        fdp = atheris.FuzzedDataProvider(data)
        name = names[fdp.ConsumeIntInRange(0, len(names) - 1)]
        max_length = fdp.ConsumeIntInRange(checker.shortest(name), 512)
        strategy = cases.STRATEGIES[fdp.ConsumeIntInRange(0, len(cases.STRATEGIES) - 1)]
        query = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 200))
        checker.check(name, [(query, fdp.ConsumeUnicodeNoSurrogates(4096))], max_length, strategy)

    atheris.Setup([sys.argv[0], f"-seed={seed}", "-max_len=8192"], one_input)
    atheris.Fuzz()


def algorithm_list(text: str) -> tuple[str, ...]:
    """argparse type of --algorithms: a comma-separated subset of ALGORITHMS."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in ALGORITHMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: give a comma-separated list of {', '.join(ALGORITHMS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    parser.add_argument("--seed", type=int, default=None, help="default: from the clock (printed)")
    parser.add_argument("--algorithms", type=algorithm_list, default=ALGORITHMS,
                        help=f"comma-separated, of {','.join(ALGORITHMS)} (default: all)")
    parser.add_argument("--engine", choices=("random", "atheris"), default="random")
    parser.add_argument("--pairs-per-round", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    print(f"fuzz_tokenizer: seed {seed}, {args.engine}, {','.join(args.algorithms)}, {args.seconds:g} s",
          file=sys.stderr, flush=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        checker = Checker(Path(folder), args.algorithms)

        def report() -> None:
            out = dict(seed=seed, engine=args.engine, seconds=round(time.monotonic() - start, 1),
                       configs=sorted(checker.configs), **checker.totals, examples=checker.examples)
            line = json.dumps(out, ensure_ascii=True)
            print(line, flush=True)
            if args.json:
                args.json.write_text(line + "\n", encoding="utf-8")

        if args.engine == "atheris":
            run_atheris(checker, seed, args.seconds, report)
        run_random(checker, seed, args.seconds, args.pairs_per_round)
        report()
    return 1 if checker.totals["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
