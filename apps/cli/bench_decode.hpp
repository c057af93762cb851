// mha bench --decode: what one decode step of one attention layer costs, and what a generation
// loop costs with and without the KV cache. bench.cpp parses the options; bench_decode.cpp times
// one step over a cache of S tokens, bench_generate.cpp times a prompt + G-token loop.
#pragma once

#include <string>
#include <vector>

#include "mha/core/shape.hpp"

namespace mha::cli {

struct DecodeBenchOptions {
  Index context = 0;           // S: tokens in the cache (step mode)
  Index batch = 1;             // B
  std::string shape;           // E,H[,H_kv]; empty = 512,8
  std::string cache_dtype = "f32";
  std::string generate;        // P,G: generation mode; empty = step mode
  Index caches = 0;            // caches to cycle over; 0 = enough to exceed the last-level cache
  std::string kernel;
  int threads = 0;
  int repeats = 10;            // step: passes over the caches; generate: whole loops (default 3)
  bool json = false;
};

struct DecodeShape {
  Index embed, heads, kv_heads;
  Index head_dim() const { return embed / heads; }
};

// "E,H[,H_kv]": H divides E, H_kv divides H (default H); throws mha::Error naming --shape.
DecodeShape parse_decode_shape(const std::string& text);
// Median of a non-empty sample (the mean of the two middle values for an even count).
double median_of(std::vector<double> values);
// The CPU's model name from /proc/cpuinfo ("unknown" when absent).
std::string cpu_model_name();

// Both validate their options first (mha::Error naming the option) and print one report (text,
// or one JSON object with --json).
void run_decode_step_bench(const DecodeBenchOptions& options);
void run_generate_bench(const DecodeBenchOptions& options);

}  // namespace mha::cli
