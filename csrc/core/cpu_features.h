// Which of crossrank's CPU-specific kernels can run here.
#pragma once

namespace crossrank {

// True when this build has the AVX-512 kernels (*_avx512.cc) and this CPU runs AVX-512F.
bool avx512_available();

}  // namespace crossrank
