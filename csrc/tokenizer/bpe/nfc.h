// The NFC normalizer of Hugging Face `tokenizers` (normalizers::NFC): canonical decomposition
// (the NFD data of tokenizer/unicode_tables, probed from the library), canonical ordering, then
// canonical composition (compositions probed from the library: tokenizer/bpe/bpe_tables).
#pragma once

#include <cstddef>
#include <vector>

namespace crossrank {
namespace bpe {

// Appends NFC(in[0, n)) to `out`; `scratch` is clobbered (reused so that calls do not allocate).
void nfc(const char32_t* in, size_t n, std::vector<char32_t>& out, std::vector<char32_t>& scratch);

}  // namespace bpe
}  // namespace crossrank
