#include "atomic_text_file.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

#include "mha/core/error.hpp"
#include "mha/io/atomic_file.hpp"

namespace mha::cli {
namespace {

std::filesystem::path directory_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

}  // namespace

void check_output_directory(const std::string& path, const std::string& option) {
  if (path.empty()) throw_invalid(option, "a file name", "''");
  std::error_code ec;
  if (!std::filesystem::is_directory(directory_of(path), ec))
    throw_invalid(option, "a file in an existing directory",
                  "'" + path + "' (no directory " + directory_of(path).string() + ")");
}

void write_text_atomically(const std::string& path, std::string_view text,
                           const std::string& option) {
  check_output_directory(path, option);
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  if (const std::optional<std::string> failure = write_file_atomically(path, {&bytes, 1}))
    throw_invalid(option, "a writable file", "'" + path + "': " + *failure);
}

}  // namespace mha::cli
