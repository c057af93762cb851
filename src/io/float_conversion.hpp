// Widening conversions of 16-bit floats to float, bit-exact (every F16 and BF16 value is exactly
// representable as an IEEE binary32).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace mha {

static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559,
              "safetensors floats are IEEE 754");

// bfloat16 is the top half of a binary32: same sign, 8-bit exponent and the 7 leading mantissa bits.
inline float bf16_to_float(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. value = (−1)^s · 2^(e−15) · 1.m for
// 0 < e < 31; (−1)^s · 2^−14 · 0.m for e = 0 (subnormal); ±inf / NaN for e = 31.
inline float f16_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  const std::uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0) {
    // 2^−14 · m/2^10 = m · 2^−24; exact in binary32.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 0x1F)  // inf or NaN: keep the payload in the top mantissa bits
    return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  // Rebias the exponent from 15 to 127 and widen the mantissa from 10 to 23 bits.
  return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

}  // namespace mha
