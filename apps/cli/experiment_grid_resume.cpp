// The JSON Lines resume file of run_grid.
#include "experiment_grid_resume.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "mha/core/error.hpp"

namespace mha::cli {
namespace {

using json = nlohmann::ordered_json;

json number_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

double number_or_nan(const json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

// "--steps 4 --d-model 8" → {"--steps 4", "--d-model 8"}: the settings as separate items, so a
// refusal can say which ones differ.
std::vector<std::string> setting_items(const std::string& settings) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start < settings.size()) {
    std::size_t next = settings.find(" --", start + 1);
    if (next == std::string::npos) next = settings.size();
    items.push_back(settings.substr(start, next - start));
    start = next + (next < settings.size() ? 1 : 0);
  }
  return items;
}

// "--steps 5 (this command: --steps 4)": what the file has that this command has not.
std::string settings_difference(const std::string& file, const std::string& ours) {
  const std::vector<std::string> theirs_items = setting_items(file), our_items = setting_items(ours);
  std::string theirs_only, ours_only;
  for (const std::string& item : theirs_items)
    if (std::find(our_items.begin(), our_items.end(), item) == our_items.end())
      theirs_only += (theirs_only.empty() ? "" : " ") + item;
  for (const std::string& item : our_items)
    if (std::find(theirs_items.begin(), theirs_items.end(), item) == theirs_items.end())
      ours_only += (ours_only.empty() ? "" : " ") + item;
  return fmt::format("'{}' (this command: '{}')", theirs_only, ours_only);
}

}  // namespace

std::string to_json_line(const GridRunResult& run, const std::string& settings) {
  json metrics = json::object();
  for (const auto& [key, value] : run.metrics) metrics[key] = number_or_null(value);
  json curve = json::array();
  for (const CurvePoint& p : run.curve) curve.push_back(json::array({p.step, number_or_null(p.loss)}));
  const json line = {{"settings", settings},       {"id", run.id},
                     {"group", run.group},         {"heads", run.heads},
                     {"head_dim", run.head_dim},   {"seed", run.seed},
                     {"parameters", run.parameters}, {"seconds", run.seconds},
                     {"finished", run.finished},   {"metrics", std::move(metrics)},
                     {"curve", std::move(curve)}};
  return line.dump();
}

GridRunResult from_json_line(const std::string& line, const std::string& where,
                             std::string& settings) {
  try {
    const json j = json::parse(line);
    GridRunResult r;
    settings = j.at("settings").get<std::string>();
    r.id = j.at("id").get<std::string>();
    r.group = j.at("group").get<std::string>();
    r.heads = j.at("heads").get<Index>();
    r.head_dim = j.at("head_dim").get<Index>();
    r.seed = j.at("seed").get<Index>();
    r.parameters = j.at("parameters").get<Index>();
    r.seconds = j.at("seconds").get<double>();
    r.finished = j.at("finished").get<std::int64_t>();
    for (const auto& [key, value] : j.at("metrics").items())
      r.metrics.emplace_back(key, number_or_nan(value));
    for (const json& p : j.at("curve"))
      r.curve.push_back({.step = p.at(0).get<Index>(), .loss = number_or_nan(p.at(1))});
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw_invalid(where, "a finished run as one JSON object (id, settings, metrics, …)",
                  std::string("a line that does not parse (") + e.what() + ")");
  }
}

ResumeFile::ResumeFile(std::string path, std::string settings)
    : path_(std::move(path)), settings_(std::move(settings)) {
  if (path_.empty()) return;
  std::string text;
  if (std::filesystem::exists(path_)) {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream all;
    all << in.rdbuf();
    if (!in) throw_invalid(path_, "a readable resume file", "a file that cannot be read");
    text = all.str();
  }
  std::size_t start = 0, complete = 0;  // complete: the bytes up to the last good line's end
  Index number = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end == std::string::npos ? end : end - start);
    ++number;
    const bool last = end == std::string::npos;
    if (line.find_first_not_of(" \t\r") != std::string::npos) {
      std::string line_settings;
      try {
        runs_.push_back(from_json_line(line, fmt::format("{} line {}", path_, number), line_settings));
      } catch (const Error&) {
        if (!last) throw;
        // The writer puts a whole line and its newline in one write(): a last line without its
        // newline that does not parse was cut short by an interrupted run.
        fmt::print(stderr, "mha: warning: {}: ignoring line {}, cut short (an interrupted write)\n",
                   path_, number);
        break;
      }
      if (line_settings != settings_)
        throw_invalid(path_, "runs made with this command's settings (rerun with another --resume "
                             "file, or delete it to start again)",
                      fmt::format("line {} made with {}", number, settings_difference(line_settings, settings_)));
    }
    complete = last ? text.size() : end + 1;
    if (last) break;
    start = end + 1;
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_invalid(path_, "a resume file that can be written", std::strerror(errno));
  // Cut the interrupted line off (or end a last good line that lacks its newline) before the
  // first append, so every line stays whole.
  std::string ending;
  if (complete > 0 && text[complete - 1] != '\n') ending = "\n";
  if (::ftruncate(fd_, static_cast<off_t>(complete)) != 0 ||
      ::lseek(fd_, 0, SEEK_END) < 0 ||
      (!ending.empty() && ::write(fd_, ending.data(), ending.size()) != 1)) {
    const std::string reason = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    throw_invalid(path_, "a resume file that can be written", reason);
  }
}

ResumeFile::~ResumeFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ResumeFile::append(const GridRunResult& run) {
  if (fd_ < 0) return;
  const std::string line = to_json_line(run, settings_) + "\n";
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_invalid(path_, "a resume file that can be written", std::strerror(errno));
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0)
    throw_invalid(path_, "a resume file that can be synced to disk", std::strerror(errno));
  runs_.push_back(run);
}

}  // namespace mha::cli
