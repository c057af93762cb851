// Writing a file so that a reader never sees half of it: the bytes go to a temporary file in the
// destination's directory, are flushed (fsync), made readable like any other output (0644) and
// renamed over the destination. rename(2) within one file system is atomic, so the destination
// holds either its old content or the whole new one; on any failure the temporary file is removed
// and the destination is untouched. Every file mha writes (checkpoints, safetensors, reports,
// pages) goes through here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>

namespace mha {

// Writes the pieces one after another. Returns nothing on success, else what failed and why
// ("cannot write: No space left on device"), for the caller to report in its own error type.
[[nodiscard]] std::optional<std::string> write_file_atomically(
    const std::filesystem::path& path, std::span<const std::span<const std::uint8_t>> pieces);

}  // namespace mha
