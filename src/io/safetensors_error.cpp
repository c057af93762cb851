#include "io/safetensors_error.hpp"

namespace mha {

std::string_view kind_name(SafetensorsError::Kind kind) {
  using K = SafetensorsError::Kind;
  switch (kind) {
    case K::HeaderTooSmall: return "HeaderTooSmall";
    case K::HeaderTooLarge: return "HeaderTooLarge";
    case K::InvalidHeaderLength: return "InvalidHeaderLength";
    case K::InvalidUtf8: return "InvalidUtf8";
    case K::InvalidJson: return "InvalidJson";
    case K::UnknownDType: return "UnknownDType";
    case K::DuplicateName: return "DuplicateName";
    case K::InvalidMetadata: return "InvalidMetadata";
    case K::InvalidOffset: return "InvalidOffset";
    case K::Overflow: return "Overflow";
    case K::MisalignedSlice: return "MisalignedSlice";
    case K::SizeMismatch: return "SizeMismatch";
    case K::IncompleteBuffer: return "IncompleteBuffer";
    case K::TensorNotFound: return "TensorNotFound";
    case K::WrongDType: return "WrongDType";
    case K::Io: return "Io";
  }
  return "Unknown";
}

void fail(SafetensorsError::Kind kind, std::string_view source, const std::string& what) {
  if (source.empty()) throw SafetensorsError(kind, what);
  throw SafetensorsError(kind, "'" + std::string(source) + "': " + what);
}

std::string single_quoted(std::string_view name) {
  // A header may hold names of up to 100 MB; keep messages readable. Cut before a UTF-8
  // continuation byte (10xxxxxx) so the message stays valid UTF-8.
  constexpr std::size_t kMaxShown = 200;
  if (name.size() <= kMaxShown) return "'" + std::string(name) + "'";
  std::size_t cut = kMaxShown;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(name.substr(0, cut)) + "...' (" + std::to_string(name.size()) +
         " bytes)";
}

}  // namespace mha
