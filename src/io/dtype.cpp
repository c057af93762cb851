// The safetensors dtype table: spelling and bits per element (formats.md §1.2).
#include <array>

#include "mha/io/safetensors.hpp"

namespace mha {
namespace {

struct DTypeRow {
  DType dtype;
  std::string_view name;
  std::uint64_t bits;
};

// In enum order, so kTable[static_cast<size_t>(d)].dtype == d (checked below).
constexpr std::array kTable{
    DTypeRow{DType::BOOL, "BOOL", 8},
    DTypeRow{DType::F4, "F4", 4},
    DTypeRow{DType::F6_E2M3, "F6_E2M3", 6},
    DTypeRow{DType::F6_E3M2, "F6_E3M2", 6},
    DTypeRow{DType::U8, "U8", 8},
    DTypeRow{DType::I8, "I8", 8},
    DTypeRow{DType::F8_E5M2, "F8_E5M2", 8},
    DTypeRow{DType::F8_E4M3, "F8_E4M3", 8},
    DTypeRow{DType::F8_E8M0, "F8_E8M0", 8},
    DTypeRow{DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    DTypeRow{DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8},
    DTypeRow{DType::I16, "I16", 16},
    DTypeRow{DType::U16, "U16", 16},
    DTypeRow{DType::F16, "F16", 16},
    DTypeRow{DType::BF16, "BF16", 16},
    DTypeRow{DType::I32, "I32", 32},
    DTypeRow{DType::U32, "U32", 32},
    DTypeRow{DType::F32, "F32", 32},
    DTypeRow{DType::C64, "C64", 64},
    DTypeRow{DType::F64, "F64", 64},
    DTypeRow{DType::I64, "I64", 64},
    DTypeRow{DType::U64, "U64", 64},
};

constexpr bool table_in_enum_order() {
  for (std::size_t i = 0; i < kTable.size(); ++i)
    if (static_cast<std::size_t>(kTable[i].dtype) != i) return false;
  return true;
}
static_assert(table_in_enum_order());
static_assert(kTable.size() == static_cast<std::size_t>(DType::U64) + 1);

const DTypeRow& row(DType dtype) { return kTable.at(static_cast<std::size_t>(dtype)); }

}  // namespace

std::string_view dtype_name(DType dtype) { return row(dtype).name; }

std::uint64_t dtype_bits(DType dtype) { return row(dtype).bits; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const DTypeRow& r : kTable)
    if (r.name == name) return r.dtype;
  return std::nullopt;
}

}  // namespace mha
