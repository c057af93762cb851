// The CLI's text outputs (reports, pages, JSON) written through mha::write_file_atomically
// (mha/io/atomic_file.hpp), with errors that name the flag that named the file.
#pragma once

#include <string>
#include <string_view>

namespace mha::cli {

// Throws mha::Error naming `option` (the flag that named the file), the path and the reason.
void write_text_atomically(const std::string& path, std::string_view text,
                           const std::string& option);

// Fails early, before hours of work, when `path` cannot be created: its directory must exist.
// Throws mha::Error naming `option`.
void check_output_directory(const std::string& path, const std::string& option);

}  // namespace mha::cli
