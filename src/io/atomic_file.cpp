// The one atomic file writer (mha/io/atomic_file.hpp): mkstemp beside the destination, write,
// fchmod 0644, fsync, close, rename; the temporary file is unlinked on every failure path.
#include "mha/io/atomic_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace mha {
namespace {

bool write_all(int fd, const std::uint8_t* bytes, std::size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

// The failure with errno's reason, after closing (fd ≥ 0) and removing the temporary file.
std::string discard(int fd, const char* temp, const std::string& what) {
  const int first_error = errno;
  if (fd >= 0) ::close(fd);
  ::unlink(temp);
  return what + ": " + std::strerror(first_error);
}

}  // namespace

std::optional<std::string> write_file_atomically(
    const std::filesystem::path& path, std::span<const std::span<const std::uint8_t>> pieces) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::string pattern = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  std::vector<char> temp(pattern.begin(), pattern.end());
  temp.push_back('\0');
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return "cannot create a temporary file in " + dir.string() + ": " + std::strerror(errno);
  for (const std::span<const std::uint8_t> piece : pieces)
    if (!write_all(fd, piece.data(), piece.size())) return discard(fd, temp.data(), "cannot write");
  // mkstemp creates the file 0600; an output is meant to be read like any other file.
  if (::fchmod(fd, 0644) != 0) return discard(fd, temp.data(), "cannot set permissions");
  if (::fsync(fd) != 0) return discard(fd, temp.data(), "cannot flush");
  if (::close(fd) != 0) return discard(-1, temp.data(), "cannot close");
  if (::rename(temp.data(), path.c_str()) != 0) return discard(-1, temp.data(), "cannot rename into place");
  return std::nullopt;
}

}  // namespace mha
