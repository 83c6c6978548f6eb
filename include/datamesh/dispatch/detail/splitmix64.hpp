/// @file
/// `detail::splitmix64`: the small random bit generator behind the DemandDispatcher's shuffle.
#pragma once

#include <cstdint>

namespace datamesh::detail {

/// SplitMix64 (Steele, Lea and Flood, 2014): a UniformRandomBitGenerator with 8 bytes of state.
/// The dispatcher shuffles once per producer and needs no statistical strength; std::mt19937_64
/// would put 2.5 KB in every producer and <random> in every stage author's includes.
///
/// Thread safety: none; owned by one dispatcher.
class splitmix64 {
 public:
  using result_type = std::uint64_t;

  explicit constexpr splitmix64(std::uint64_t seed) noexcept : state_(seed) {}

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type{0}; }

  constexpr result_type operator()() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

}  // namespace datamesh::detail
