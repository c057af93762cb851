// Runs the built `mha` binary for the cli tests and captures its exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mha::testing {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

// A fresh directory for one test's files, named after the test.
inline std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      (std::string("mha_cli_") + info->test_suite_name() + "_" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A shell command line, its standard output and error captured apart.
inline CliResult run_shell(const std::string& command_line) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string stem = "mha_cli_run_" + std::to_string(::getpid());
  const auto out_path = dir / (stem + ".out"), err_path = dir / (stem + ".err");
  const std::string command = command_line + " >" + out_path.string() + " 2>" + err_path.string();
  const int status = std::system(command.c_str());
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

// `mha <args>`; args are passed through the shell, so quote what needs quoting.
inline CliResult run_mha(const std::string& args) {
  return run_shell(std::string(MHA_BINARY_DIR "/apps/cli/mha ") + args);
}

inline int count_lines(const std::string& text) {
  int lines = 0;
  for (const char c : text) lines += c == '\n' ? 1 : 0;
  return lines;
}

inline int count_occurrences(const std::string& text, const std::string& needle) {
  int count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

// A failed run: non-zero exit, one line on stderr that starts with "mha: error:" and names `what`.
inline ::testing::AssertionResult fails_naming(const CliResult& r, const std::string& what) {
  if (r.exit_code == 0) return ::testing::AssertionFailure() << "exit code 0; stdout:\n" << r.out;
  if (count_lines(r.err) != 1 || r.err.rfind("mha: error:", 0) != 0)
    return ::testing::AssertionFailure() << "stderr is not one 'mha: error:' line:\n" << r.err;
  if (r.err.find(what) == std::string::npos)
    return ::testing::AssertionFailure() << "stderr does not name '" << what << "':\n" << r.err;
  return ::testing::AssertionSuccess();
}

}  // namespace mha::testing
