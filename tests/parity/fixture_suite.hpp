// What the PyTorch parity suites share besides the fixture reader (parity_case.hpp): the list of
// fixture files a suite is instantiated over, and a worst-|Δ| report printed once the run ends,
// so the margins quoted in docs/numerics.md come from the whole fixture set, not one case.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace mha::parity {

// <prefix>*.safetensors in `dir`, sorted so that test names come out in a stable order (strings,
// because GoogleTest prints them plainly). A missing directory gives an empty list: the suite's
// "at least N cases" test is the one that fails then, naming the script to run.
inline std::vector<std::string> fixture_files(const std::filesystem::path& dir,
                                              const std::string& prefix) {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().filename().string().starts_with(prefix) &&
        entry.path().extension() == ".safetensors")
      files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The worst error seen per compared tensor over the whole run. GoogleTest calls TearDown after the
// last test; it prints `heading` (when not empty) and then one line per tensor, in name order,
// through `print_line`, so each suite keeps its own wording.
class WorstReport : public ::testing::Environment {
 public:
  using PrintLine = std::function<void(const std::string& name, double worst)>;

  WorstReport(std::string heading, PrintLine print_line)
      : heading_(std::move(heading)), print_line_(std::move(print_line)) {}

  // std::max keeps the old value when `error` is NaN; callers that must see NaN map it to ∞.
  void record(const std::string& name, double error) {
    double& worst = worst_[name];
    worst = std::max(worst, error);
  }

  void TearDown() override {
    if (worst_.empty()) return;
    if (!heading_.empty()) std::cout << heading_;
    for (const auto& [name, worst] : worst_) print_line_(name, worst);
  }

 private:
  std::string heading_;
  PrintLine print_line_;
  std::map<std::string, double> worst_;
};

// Registers a report for the whole run; GoogleTest owns it, the caller keeps the pointer to record.
inline WorstReport* add_worst_report(std::string heading, WorstReport::PrintLine print_line) {
  auto* report = new WorstReport(std::move(heading), std::move(print_line));
  ::testing::AddGlobalTestEnvironment(report);
  return report;
}

}  // namespace mha::parity
