// KvCache: shape validation, exact bytes, append (atomic on every error), append_sequence,
// truncate and clear; and the bf16 / f16 conversions (ties to even, overflow, NaN, subnormals).
#include "mha/kernels/kv_cache.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "testing/expect_error.hpp"
#include "testing/random_tensor.hpp"

namespace mha {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

float from_bits(std::uint32_t bits) { return std::bit_cast<float>(bits); }

TEST(CacheConversions, Bf16RoundsToNearestEven) {
  EXPECT_EQ(bf16_from_float(1.0f), 0x3F80);
  EXPECT_EQ(bf16_from_float(from_bits(0x3F808000)), 0x3F80);  // tie, even below
  EXPECT_EQ(bf16_from_float(from_bits(0x3F818000)), 0x3F82);  // tie, even above
  EXPECT_EQ(bf16_from_float(from_bits(0x3F808001)), 0x3F81);  // just above the tie
  EXPECT_EQ(bf16_from_float(from_bits(0x3F807FFF)), 0x3F80);
  EXPECT_EQ(bf16_from_float(-2.5f), 0xC020);
  EXPECT_EQ(bf16_from_float(from_bits(0x7F7FFFFF)), 0x7F80);  // max float rounds up to Inf
  EXPECT_EQ(bf16_from_float(kInf), 0x7F80);
  EXPECT_EQ(bf16_from_float(-kInf), 0xFF80);
  EXPECT_EQ(bf16_from_float(from_bits(0x00018000)), 0x0002);  // subnormal tie to even
  const std::uint16_t nan = bf16_from_float(from_bits(0x7F800001));  // NaN whose payload is all in the low half
  EXPECT_TRUE(std::isnan(float_from_bf16(nan)));
  EXPECT_TRUE(std::isnan(float_from_bf16(bf16_from_float(-std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(float_from_bf16(0x3F81), from_bits(0x3F810000));
  EXPECT_EQ(std::bit_cast<std::uint32_t>(float_from_bf16(0x8000)), 0x80000000U);  // −0
}

TEST(CacheConversions, F16RoundsToNearestEven) {
  EXPECT_EQ(f16_from_float(1.0f), 0x3C00);
  EXPECT_EQ(f16_from_float(1.0f + 0x1p-11f), 0x3C00);          // tie, even below
  EXPECT_EQ(f16_from_float(1.0f + 3 * 0x1p-11f), 0x3C02);      // tie, even above
  EXPECT_EQ(f16_from_float(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);
  EXPECT_EQ(f16_from_float(65504.0f), 0x7BFF);                 // largest finite
  EXPECT_EQ(f16_from_float(65519.0f), 0x7BFF);
  EXPECT_EQ(f16_from_float(65520.0f), 0x7C00);                 // the midpoint rounds to Inf
  EXPECT_EQ(f16_from_float(-1e6f), 0xFC00);
  EXPECT_EQ(f16_from_float(kInf), 0x7C00);
  EXPECT_EQ(f16_from_float(0x1p-14f), 0x0400);                 // smallest normal
  EXPECT_EQ(f16_from_float(0x1p-24f), 0x0001);                 // smallest subnormal
  EXPECT_EQ(f16_from_float(0x1p-25f), 0x0000);                 // tie to even: 0
  EXPECT_EQ(f16_from_float(0x1p-25f * 1.0001f), 0x0001);
  EXPECT_EQ(f16_from_float(3 * 0x1p-25f), 0x0002);             // 1.5 ulp: tie to even 2
  EXPECT_EQ(f16_from_float(-5 * 0x1p-24f), 0x8005);
  EXPECT_EQ(f16_from_float(0x1p-14f - 0x1p-26f), 0x0400);      // rounds up into the normals
  EXPECT_EQ(f16_from_float(-0.0f), 0x8000);
  EXPECT_TRUE(std::isnan(float_from_f16(f16_from_float(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isnan(float_from_f16(f16_from_float(from_bits(0x7F800001)))));
  EXPECT_EQ(float_from_f16(0x0001), 0x1p-24f);
  EXPECT_EQ(float_from_f16(0x03FF), 1023 * 0x1p-24f);
  EXPECT_EQ(float_from_f16(0x7BFF), 65504.0f);
  EXPECT_EQ(float_from_f16(0xFC00), -kInf);
  EXPECT_EQ(float_from_f16(0xC000), -2.0f);
}

TEST(CacheConversions, F16RoundTripsEveryPattern) {
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    const float x = float_from_f16(h);
    if (std::isnan(x)) continue;
    ASSERT_EQ(f16_from_float(x), h) << bits;
  }
}

KvCache small_cache(CacheDtype dtype = CacheDtype::f32) {
  return KvCache({.batch = 2, .kv_heads = 3, .max_length = 5, .head_dim = 4, .value_dim = 2, .dtype = dtype});
}

TEST(KvCache, ShapeAndBytes) {
  for (const CacheDtype dtype : {CacheDtype::f32, CacheDtype::bf16, CacheDtype::f16}) {
    const KvCache cache = small_cache(dtype);
    EXPECT_EQ(cache.bytes(), std::size_t{(4 + 2) * 2 * 3 * 5} * cache_dtype_bytes(dtype));
    EXPECT_EQ(cache.length(0), 0);
    EXPECT_EQ(cache.key_offset(1, 2, 3), ((1 * 3 + 2) * 5 + 3) * 4);
    EXPECT_EQ(cache.value_offset(1, 2, 3), ((1 * 3 + 2) * 5 + 3) * 2);
  }
  const KvCache same_dims({.batch = 1, .kv_heads = 2, .max_length = 7, .head_dim = 3});
  EXPECT_EQ(same_dims.value_dim(), 3);
  EXPECT_EQ(same_dims.bytes(), std::size_t{2 * 1 * 2 * 7 * 3 * 4});
  EXPECT_EQ(KvCache().bytes(), 0u);
  EXPECT_TRUE(testing::throws_error([] { KvCache({.batch = 0, .max_length = 1, .head_dim = 1}); }, {"batch", "got 0"}));
  EXPECT_TRUE(testing::throws_error([] { KvCache({.kv_heads = 0, .max_length = 1, .head_dim = 1}); }, {"kv_heads"}));
  EXPECT_TRUE(testing::throws_error([] { KvCache({.max_length = 0, .head_dim = 1}); }, {"max_length"}));
  EXPECT_TRUE(testing::throws_error([] { KvCache({.max_length = 1, .head_dim = 0}); }, {"head_dim"}));
  EXPECT_TRUE(testing::throws_error([] { KvCache({.max_length = 1, .head_dim = 1, .value_dim = -1}); }, {"value_dim"}));
  EXPECT_EQ(parse_cache_dtype("bf16"), CacheDtype::bf16);
  EXPECT_EQ(cache_dtype_name(CacheDtype::f16), "f16");
  EXPECT_TRUE(testing::throws_error([] { parse_cache_dtype("f64"); }, {"cache-dtype", "'f64'"}));
}

TEST(KvCache, AppendWritesConvertedRowsAtTheEnd) {
  for (const CacheDtype dtype : {CacheDtype::f32, CacheDtype::bf16, CacheDtype::f16}) {
    KvCache cache = small_cache(dtype);
    const Tensor<> k = testing::random_tensor({2, 3, 2, 4}, 1), v = testing::random_tensor({2, 3, 2, 2}, 2);
    const Index counts[] = {2, 1};
    cache.append(k.view(), v.view(), counts);
    cache.append(k.view(), v.view());
    EXPECT_EQ(cache.length(0), 4);
    EXPECT_EQ(cache.length(1), 3);
    const auto round = [&](float x) {
      return dtype == CacheDtype::f32 ? x
             : dtype == CacheDtype::bf16 ? float_from_bf16(bf16_from_float(x))
                                         : float_from_f16(f16_from_float(x));
    };
    for (Index g = 0; g < 3; ++g)
      for (Index x = 0; x < 4; ++x) {
        EXPECT_EQ(cache.key(0, g, 1, x), round(k(0, g, 1, x)));
        EXPECT_EQ(cache.key(0, g, 3, x), round(k(0, g, 1, x)));  // second append, row 1
        EXPECT_EQ(cache.key(1, g, 1, x), round(k(1, g, 0, x)));  // sequence 1 took one row first
      }
    EXPECT_EQ(cache.value(1, 2, 2, 1), round(v(1, 2, 1, 1)));
    // append_sequence, on strided (transposed) views: [Hkv, n, D] read from [n, Hkv, D] storage.
    const Tensor<> ks = testing::random_tensor({1, 3, 4}, 3), vs = testing::random_tensor({1, 3, 2}, 4);
    cache.append_sequence(1, TensorView<const float>(ks.data(), {3, 1, 4}, {4, 12, 1}),
                          TensorView<const float>(vs.data(), {3, 1, 2}, {2, 6, 1}));
    EXPECT_EQ(cache.length(1), 4);
    EXPECT_EQ(cache.key(1, 2, 3, 1), round(ks(0, 2, 1)));
    EXPECT_EQ(cache.value(1, 1, 3, 0), round(vs(0, 1, 0)));
  }
}

// Every error leaves lengths and contents as they were.
TEST(KvCache, AppendIsAtomicOnEveryError) {
  KvCache cache = small_cache(CacheDtype::bf16);
  const Tensor<> k = testing::random_tensor({2, 3, 3, 4}, 5), v = testing::random_tensor({2, 3, 3, 2}, 6);
  const Index first[] = {3, 1};
  cache.append(k.view(), v.view(), first);
  const auto snapshot = [&] {
    std::vector<unsigned char> bytes(cache.bytes());
    const std::size_t key_bytes = std::size_t{2 * 3 * 5 * 4} * 2;
    std::memcpy(bytes.data(), cache.key_data(), key_bytes);
    std::memcpy(bytes.data() + key_bytes, cache.value_data(), bytes.size() - key_bytes);
    return bytes;
  };
  const auto before = snapshot();
  const auto unchanged = [&](const char* what) {
    EXPECT_EQ(cache.length(0), 3) << what;
    EXPECT_EQ(cache.length(1), 1) << what;
    EXPECT_TRUE(snapshot() == before) << what;
  };
  const Index past_max[] = {3, 0};  // sequence 0 holds 3 of 5: 3 more pass S_max
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k.view(), v.view(), past_max); }, {"counts[0]", "at most 2", "got 3"}));
  unchanged("past S_max");
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k.view(), v.view()); }, {"counts[0]"}));  // 3 + 3 > 5
  unchanged("implicit counts");
  const Index bad_count[] = {4, 0}, negative[] = {0, -1}, one[] = {1};
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k.view(), v.view(), bad_count); }, {"counts[0]", "[0, 3]", "got 4"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k.view(), v.view(), negative); }, {"counts[1]", "got -1"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k.view(), v.view(), one); }, {"counts", "2 counts"}));
  unchanged("bad counts");
  const Tensor<> k_heads = testing::random_tensor({2, 2, 1, 4}, 7), k_dim = testing::random_tensor({2, 3, 1, 5}, 7),
                 k_batch = testing::random_tensor({1, 3, 1, 4}, 7), v_rows = testing::random_tensor({2, 3, 2, 2}, 7),
                 v_dim = testing::random_tensor({2, 3, 3, 4}, 7);
  const Index zero[] = {0, 0};
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k_heads.view(), v.view(), zero); }, {"k:", "[2, 3, 1, 4]", "got [2, 2, 1, 4]"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k_dim.view(), v.view(), zero); }, {"k:"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k_batch.view(), v.view(), zero); }, {"k:"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k.view(), v_rows.view(), zero); }, {"v:", "3 rows"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append(k.view(), v_dim.view(), zero); }, {"v:"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append({}, v.view(), zero); }, {"k:", "no data"}));
  unchanged("bad shapes");
  const Tensor<> ks = testing::random_tensor({3, 3, 4}, 8), vs = testing::random_tensor({3, 3, 2}, 9);
  EXPECT_TRUE(testing::throws_error([&] { cache.append_sequence(2, ks.view(), vs.view()); }, {"batch index", "[0, 2)", "got 2"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append_sequence(-1, ks.view(), vs.view()); }, {"batch index"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append_sequence(0, ks.view(), vs.view()); }, {"k:", "at most 2"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append_sequence(1, ks.view(), k.view()); }, {"v:"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.append_sequence(1, k.view(), vs.view()); }, {"k:"}));
  unchanged("append_sequence");
  EXPECT_TRUE(testing::throws_error([&] { (void)cache.length(5); }, {"batch index"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.truncate(0, 4); }, {"length", "[0, 3]", "got 4"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.truncate(0, -1); }, {"length"}));
  EXPECT_TRUE(testing::throws_error([&] { cache.truncate(7, 0); }, {"batch index"}));
  unchanged("truncate");
  KvCache empty;
  EXPECT_TRUE(testing::throws_error([&] { empty.append(k.view(), v.view()); }, {"cache"}));
}

TEST(KvCache, TruncateAndClearKeepTheMemory) {
  KvCache cache = small_cache();
  const Tensor<> k = testing::random_tensor({2, 3, 4, 4}, 1), v = testing::random_tensor({2, 3, 4, 2}, 2);
  cache.append(k.view(), v.view());
  const void* keys = cache.key_data();
  cache.truncate(0, 1);
  EXPECT_EQ(cache.length(0), 1);
  EXPECT_EQ(cache.length(1), 4);
  const Tensor<> k1 = testing::random_tensor({3, 1, 4}, 3), v1 = testing::random_tensor({3, 1, 2}, 4);
  cache.append_sequence(0, k1.view(), v1.view());  // overwrites row 1
  EXPECT_EQ(cache.key(0, 1, 1, 2), k1(1, 0, 2));
  EXPECT_EQ(cache.key(0, 1, 0, 2), k(0, 1, 0, 2));
  cache.clear();
  EXPECT_EQ(cache.length(0), 0);
  EXPECT_EQ(cache.length(1), 0);
  EXPECT_EQ(cache.key_data(), keys);
  cache.append(k.view(), v.view());
  EXPECT_EQ(cache.length(1), 4);
}

}  // namespace
}  // namespace mha
