// The resume file of run_grid (its format is in experiment_grid.hpp): read once at the start,
// then one line appended and fsync'ed per finished run. Used by experiment_grid.cpp only.
#pragma once

#include <string>
#include <vector>

#include "experiment_grid.hpp"

namespace mha::cli {

class ResumeFile {
 public:
  // Reads `path` (a missing file is empty) and keeps it open for appending; "" = no file.
  // Throws mha::Error naming the path on a malformed line or a line of other settings; drops a
  // last line cut short by an interrupted write, with a warning on stderr.
  ResumeFile(std::string path, std::string settings);
  ~ResumeFile();
  ResumeFile(const ResumeFile&) = delete;
  ResumeFile& operator=(const ResumeFile&) = delete;

  const std::string& path() const { return path_; }
  // Every run in the file, in file order.
  const std::vector<GridRunResult>& runs() const { return runs_; }
  // Appends one line and fsyncs; throws mha::Error naming the path when that fails.
  void append(const GridRunResult& run);

 private:
  std::string path_, settings_;
  std::vector<GridRunResult> runs_;
  int fd_ = -1;
};

}  // namespace mha::cli
