// Attention dropout: a counter-based keep/drop decision per (seed, b, h, i, j), and the
// training forward that applies it.
#include <cstdint>

#include "kernels/reference/attention_backward_reference.hpp"
#include "mha/kernels/attention_backward.hpp"

namespace mha {
namespace {

// SplitMix64's finaliser: a bijective mix whose output bits each depend on every input bit.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

bool dropout_keeps(const AttentionDropout& dropout, Index b, Index h, Index i, Index j) {
  // Fold the coordinates in one at a time, mixing after each, so (b, h, i, j) and a permutation
  // of it hash differently; then keep with probability 1 − rate: u = top 53 bits / 2^53 ≥ rate.
  std::uint64_t state = mix(dropout.seed + 0x9e3779b97f4a7c15ULL);
  for (const Index coordinate : {b, h, i, j})
    state = mix(state ^ static_cast<std::uint64_t>(coordinate));
  const double unit = static_cast<double>(state >> 11) * 0x1.0p-53;
  return unit >= dropout.rate;
}

void attention_for_training(const AttentionArgs& args, const AttentionDropout& dropout,
                            const Context& ctx) {
  if (!args.lse.defined())
    throw_invalid("lse", "a [B, Hq, Lq] view (the backward needs it)", "none");
  if (!(dropout.rate >= 0.0 && dropout.rate < 1.0))
    throw_invalid("dropout rate", "a probability in [0, 1)", std::to_string(dropout.rate));
  if (dropout.rate > 0.0 && ctx.sequence_parallel != nullptr)
    throw_invalid("dropout rate", "0 under a sequence-parallel context (dropout needs whole rows)",
                  std::to_string(dropout.rate));
  attention(args, ctx);  // validates; without dropout this is the whole forward
  if (dropout.rate > 0.0) attention_dropout_reference(args, dropout);
}

}  // namespace mha
