// A read-only memory mapping of a whole regular file (POSIX mmap), unmapped in the destructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace mha {

class MappedFile {
 public:
  // Throws SafetensorsError(Io) naming the path when the file cannot be opened, is not a regular
  // file, or cannot be mapped. An empty file maps to an empty span (mmap refuses length 0).
  static MappedFile open(const std::filesystem::path& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::uint8_t> bytes() const {
    return {static_cast<const std::uint8_t*>(address_), size_};
  }

 private:
  MappedFile(void* address, std::size_t size) : address_(address), size_(size) {}
  void unmap() noexcept;

  void* address_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace mha
