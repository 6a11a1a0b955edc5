#!/usr/bin/env python3
"""Generate csrc/tokenizer/unicode_tables.cc by probing the Hugging Face `tokenizers` library.

The C++ WordPiece tokenizer must be bit-identical to `tokenizers`, whose Rust crates
(unicode_categories, unicode-normalization-alignments, Rust std) carry their own,
partly old, Unicode data.  Python's `unicodedata` differs from them (e.g. clean_text
keeps unassigned code points and noncharacters such as U+FFFE, but drops private-use
ones; Python's str.isspace() counts U+001C..U+001F as whitespace, Rust does not), so
every table here is measured from the library itself, code point by code point
(surrogates skipped):

  clean       BertNormalizer(clean_text only): removed / mapped to ' ' / kept
  chinese     BertNormalizer(handle_chinese_chars only): padded with spaces or not
  decomp      normalizers.NFD(): full canonical decomposition (Hangul excluded:
              the C++ code decomposes syllables algorithmically; checked here)
  ccc         canonical combining class as the crate sees it (probed by whether
              NFD reorders the char against reference marks; the numeric value is
              Python's unicodedata.combining(), verified against the probes)
  mn          BertNormalizer(strip_accents only) removes the (non-decomposing) char
  lower       BertNormalizer(lowercase only): per-char lowercase mapping
  whitespace  BertPreTokenizer drops the char     (Rust char::is_whitespace)
  punct       BertPreTokenizer isolates the char
  alnum       Rust char::is_alphanumeric (for single_word added tokens), probed via
              an added token with single_word=True

Regenerate (needs the pinned `tokenizers`, see the header of the output file):

    python scripts/generate_unicode_tables.py            # writes csrc/tokenizer/unicode_tables.cc
    python scripts/generate_unicode_tables.py --check    # only verify the committed file is current
"""
from __future__ import annotations

import argparse
import os
import sys
import unicodedata

import tokenizers
from _generated_file import write_or_check
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers

MAX_CP = 0x10FFFF
HANGUL_S_BASE, HANGUL_S_COUNT = 0xAC00, 11172
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "csrc", "tokenizer", "unicode_tables.cc")


def code_points():
    for cp in range(MAX_CP + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        yield cp


def bert(clean=False, chinese=False, strip=False, lower=False):
    return normalizers.BertNormalizer(
        clean_text=clean, handle_chinese_chars=chinese, strip_accents=strip, lowercase=lower
    )


def hangul_nfd(cp: int) -> str:
    s = cp - HANGUL_S_BASE
    l, v, t = 0x1100 + s // 588, 0x1161 + (s % 588) // 28, 0x11A7 + s % 28
    return chr(l) + chr(v) + (chr(t) if t != 0x11A7 else "")


def to_ranges(cps):
    """Sorted code points -> list of inclusive (lo, hi) ranges (surrogates bridged)."""
    out = []
    for cp in sorted(cps):
        if out and (out[-1][1] + 1 == cp or (out[-1][1] == 0xD7FF and cp == 0xE000)):
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def probe():
    clean_n, chinese_n = bert(clean=True), bert(chinese=True)
    strip_n, lower_n, nfd_n = bert(strip=True), bert(lower=True), normalizers.NFD()
    pretok = pre_tokenizers.BertPreTokenizer()

    removed, spaces, chinese, mn, whitespace, punct = [], [], [], [], [], []
    decomp, lower, nonzero_ccc = {}, {}, []
    for cp in code_points():
        ch = chr(cp)
        r = clean_n.normalize_str(ch)
        if r == "":
            removed.append(cp)
        elif r == " ":
            if cp != 0x20:
                spaces.append(cp)
        else:
            assert r == ch, (hex(cp), r)
        r = chinese_n.normalize_str(ch)
        if r == f" {ch} ":
            chinese.append(cp)
        else:
            assert r == ch, (hex(cp), r)
        d = nfd_n.normalize_str(ch)
        if d != ch:
            if HANGUL_S_BASE <= cp < HANGUL_S_BASE + HANGUL_S_COUNT:
                assert d == hangul_nfd(cp), hex(cp)
            else:
                decomp[cp] = d
        else:
            s = strip_n.normalize_str(ch)
            if s == "":
                mn.append(cp)
            else:
                assert s == ch, (hex(cp), s)
            # Reordered against U+0334 (ccc 1) <=> ccc > 1; against U+0301 (ccc 230) <=> 0 < ccc < 230.
            if nfd_n.normalize_str(ch + "\u0334") != ch + "\u0334" or nfd_n.normalize_str("\u0301" + ch) != "\u0301" + ch:
                nonzero_ccc.append(cp)
        r = lower_n.normalize_str(ch)
        if r != ch:
            lower[cp] = r
        p = pretok.pre_tokenize_str("a" + ch + "a")
        words = [w for w, _ in p]
        if words == ["a", "a"]:
            whitespace.append(cp)
        elif words == ["a", ch, "a"]:
            punct.append(cp)
        else:
            assert words == ["a" + ch + "a"], (hex(cp), words)
    return dict(removed=removed, spaces=spaces, chinese=chinese, mn=mn, whitespace=whitespace,
                punct=punct, decomp=decomp, lower=lower, nonzero_ccc=nonzero_ccc)


def probe_ccc_values(nonzero):
    """Numeric ccc for the probed non-zero chars, checked pairwise against the crate's NFD."""
    nfd_n = normalizers.NFD()
    ccc = {cp: unicodedata.combining(chr(cp)) for cp in nonzero}
    bad = [hex(cp) for cp, v in ccc.items() if v == 0]
    assert not bad, f"crate has non-zero ccc where Python has 0: {bad}"
    reps = {}
    for cp, v in sorted(ccc.items()):
        reps.setdefault(v, cp)
    for cp, v in ccc.items():
        x = chr(cp)
        for rv, rcp in reps.items():
            r = chr(rcp)
            want = r + x if v > rv else x + r
            assert nfd_n.normalize_str(x + r) == want, (hex(cp), hex(rcp))
            want = x + r if rv > v else r + x
            assert nfd_n.normalize_str(r + x) == want, (hex(cp), hex(rcp))
    return ccc


def probe_alnum():
    """Rust char::is_alphanumeric via a single_word added token right after the char."""
    vocab = {"[UNK]": 0, "Q": 1}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.add_tokens([AddedToken("\u2603", single_word=True, normalized=False)])
    tid = tok.token_to_id("\u2603")
    cps = list(code_points())
    alnum = []
    step = 65536
    for i in range(0, len(cps), step):
        chunk = cps[i:i + step]
        encs = tok.encode_batch([chr(cp) + "\u2603" for cp in chunk], add_special_tokens=False)
        for cp, e in zip(chunk, encs):
            if tid not in e.ids and cp != 0x2603:
                alnum.append(cp)
    return alnum


def fmt_ranges(name, ranges):
    body = ",\n".join(
        "  " + ", ".join(f"{{0x{lo:X}, 0x{hi:X}}}" for lo, hi in ranges[i:i + 6]) for i in range(0, len(ranges), 6)
    )
    return (f"const Range k{name}[] = {{\n{body}\n}};\n"
            f"const size_t k{name}Size = sizeof(k{name}) / sizeof(k{name}[0]);\n")


def fmt_mappings(name, mapping, pool_name):
    """mapping: cp -> str.  Emits a sorted Mapping array into a shared uint32 pool."""
    pool, entries = [], []
    for cp in sorted(mapping):
        seq = [ord(c) for c in mapping[cp]]
        assert len(seq) < 256
        entries.append((cp, len(pool), len(seq)))
        pool.extend(seq)
    assert len(pool) < 65536
    pool_body = ",\n".join(
        "  " + ", ".join(f"0x{v:X}" for v in pool[i:i + 10]) for i in range(0, len(pool), 10)
    )
    ent_body = ",\n".join(
        "  " + ", ".join(f"{{0x{cp:X}, {off}, {n}}}" for cp, off, n in entries[i:i + 5])
        for i in range(0, len(entries), 5)
    )
    return (f"const char32_t k{pool_name}[] = {{\n{pool_body or '  0'}\n}};\n"
            f"const Mapping k{name}[] = {{\n{ent_body}\n}};\n"
            f"const size_t k{name}Size = sizeof(k{name}) / sizeof(k{name}[0]);\n")


def latin1_tables(t, ccc, alnum):
    """Flags and lowercase for U+0000..U+00FF (fast path; bits documented in unicode_tables.h)."""
    sets = [set(t["removed"]), set(t["spaces"]), set(t["mn"]), set(t["whitespace"]),
            set(t["punct"]), set(alnum), set(t["decomp"]), set(ccc), set(t["chinese"])]
    flags, lower = [], []
    for cp in range(256):
        f = 0
        for bit, s in enumerate(sets):
            if cp in s:
                f |= 1 << bit
        assert not (f & (1 << 8)), "no CJK in Latin-1"
        flags.append(f & 0xFF)
        lo = t["lower"].get(cp, chr(cp))
        assert len(lo) == 1
        lower.append(ord(lo))
    body = lambda v: ",\n".join("  " + ", ".join(f"0x{x:X}" for x in v[i:i + 16]) for i in range(0, 256, 16))
    return (f"const uint8_t kLatin1Flags[256] = {{\n{body(flags)}\n}};\n"
            f"const char32_t kLatin1Lower[256] = {{\n{body(lower)}\n}};\n")


def render(t, ccc, alnum):
    ccc_ranges = []
    for cp in sorted(ccc):
        if ccc_ranges and ccc_ranges[-1][1] + 1 == cp and ccc_ranges[-1][2] == ccc[cp]:
            ccc_ranges[-1][1] = cp
        else:
            ccc_ranges.append([cp, cp, ccc[cp]])
    ccc_body = ",\n".join(
        "  " + ", ".join(f"{{0x{lo:X}, 0x{hi:X}, {v}}}" for lo, hi, v in ccc_ranges[i:i + 5])
        for i in range(0, len(ccc_ranges), 5)
    )
    parts = [
        "// GENERATED by scripts/generate_unicode_tables.py -- do not edit by hand.\n"
        f"// Probed from Hugging Face tokenizers {tokenizers.__version__} (Python {sys.version.split()[0]}).\n"
        "// Regenerate: python scripts/generate_unicode_tables.py\n"
        '#include "tokenizer/unicode_tables.h"\n\nnamespace crossrank {\nnamespace unicode {\n',
        latin1_tables(t, ccc, alnum),
        fmt_ranges("CleanRemove", to_ranges(t["removed"])),
        fmt_ranges("CleanSpace", to_ranges(t["spaces"])),
        fmt_ranges("Chinese", to_ranges(t["chinese"])),
        fmt_ranges("Nonspacing", to_ranges(t["mn"])),
        fmt_ranges("Whitespace", to_ranges(t["whitespace"])),
        fmt_ranges("Punctuation", to_ranges(t["punct"])),
        fmt_ranges("Alphanumeric", to_ranges(alnum)),
        f"const CccRange kCcc[] = {{\n{ccc_body}\n}};\n"
        "const size_t kCccSize = sizeof(kCcc) / sizeof(kCcc[0]);\n",
        fmt_mappings("Decomposition", t["decomp"], "DecompositionPool"),
        fmt_mappings("Lowercase", t["lower"], "LowercasePool"),
        "}  // namespace unicode\n}  // namespace crossrank\n",
    ]
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="fail if the committed file differs")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    t = probe()
    ccc = probe_ccc_values(t["nonzero_ccc"])
    alnum = probe_alnum()
    text = render(t, ccc, alnum)
    return write_or_check(args.out, text, "scripts/generate_unicode_tables.py", args.check)


if __name__ == "__main__":
    sys.exit(main())
