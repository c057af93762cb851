// Writing a text output (a report, a figure) so that a reader never sees half of it: the text
// goes to a temporary file in the destination's directory, is flushed, and is renamed over the
// destination. rename(2) within one file system is atomic, so the destination holds either its
// old content or the whole new one, and a failure removes the temporary file.
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
