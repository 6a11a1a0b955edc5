// The walk over register tiles shared by crossrank's GEMM micro-kernels (matmul_bf16_avx512.cc,
// matmul_int8_avx512.cc): C in tiles of up to 8 rows x 2 panels of 16 columns, panel pairs outside
// and row tiles inside, so a panel pair stays in L2 for all the row tiles of a chunk and each tile's
// rows of A stay in L1. Templates only, no standard library: included by files built for AVX-512.
#pragma once

#include <cstdint>

namespace crossrank::avx512 {

inline constexpr int kTileRows = 8;    // rows of a register tile
inline constexpr int kTilePanels = 2;  // 16-column panels of a register tile

// KERNEL<R, P>::run(tile) for R = min(ROWS, 8).
template <template <int, int> class Kernel, int P, typename Tile>
void run_tile(int64_t rows, const Tile& tile) {
  switch (rows) {
    case 1: return Kernel<1, P>::run(tile);
    case 2: return Kernel<2, P>::run(tile);
    case 3: return Kernel<3, P>::run(tile);
    case 4: return Kernel<4, P>::run(tile);
    case 5: return Kernel<5, P>::run(tile);
    case 6: return Kernel<6, P>::run(tile);
    case 7: return Kernel<7, P>::run(tile);
    default: return Kernel<8, P>::run(tile);
  }
}

// Every tile of ROWS x (PANELS x 16) C: MAKE_TILE(row, panel) describes the tile starting at that
// row and 16-column panel; KERNEL runs it with 2 panels, or 1 for an odd last panel.
template <template <int, int> class Kernel, typename MakeTile>
void for_each_tile(int64_t rows, int64_t panels, MakeTile make_tile) {
  for (int64_t panel = 0; panel < panels; panel += kTilePanels) {
    for (int64_t row = 0; row < rows; row += kTileRows) {
      const int64_t tile_rows = rows - row < kTileRows ? rows - row : kTileRows;
      if (panel + 1 < panels) {
        run_tile<Kernel, 2>(tile_rows, make_tile(row, panel));
      } else {
        run_tile<Kernel, 1>(tile_rows, make_tile(row, panel));
      }
    }
  }
}

}  // namespace crossrank::avx512
