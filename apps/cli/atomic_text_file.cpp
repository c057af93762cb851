#include "atomic_text_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "mha/core/error.hpp"

namespace mha::cli {
namespace {

std::filesystem::path directory_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

[[noreturn]] void fail(const std::string& option, const std::string& path,
                       const std::string& what) {
  throw_invalid(option, "a writable file", "'" + path + "': " + what + ": " + std::strerror(errno));
}

// Closes (when fd ≥ 0) and removes the temporary file, then reports the first error.
[[noreturn]] void discard(int fd, const std::string& temp, const std::string& option,
                          const std::string& path, const std::string& what) {
  const int first_error = errno;
  if (fd >= 0) ::close(fd);
  ::unlink(temp.c_str());
  errno = first_error;
  fail(option, path, what);
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
  const std::string pattern =
      (directory_of(path) / ("." + std::filesystem::path(path).filename().string() + ".tmp-XXXXXX"))
          .string();
  std::vector<char> temp(pattern.begin(), pattern.end());
  temp.push_back('\0');
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) fail(option, path, "cannot create a temporary file");
  const std::string temp_name(temp.data());
  const char* bytes = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, bytes, left);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) discard(fd, temp_name, option, path, "cannot write");
    bytes += written;
    left -= static_cast<std::size_t>(written);
  }
  // mkstemp creates the file 0600; a report is meant to be read like any other output.
  if (::fchmod(fd, 0644) != 0) discard(fd, temp_name, option, path, "cannot set permissions");
  if (::fsync(fd) != 0) discard(fd, temp_name, option, path, "cannot flush");
  if (::close(fd) != 0) discard(-1, temp_name, option, path, "cannot close");
  if (::rename(temp_name.c_str(), path.c_str()) != 0)
    discard(-1, temp_name, option, path, "cannot rename into place");
}

}  // namespace mha::cli
