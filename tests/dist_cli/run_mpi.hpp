// Runs the built `mha` binary under mpirun for the --dist tests, through the shell as run_mha
// does (../cli/run_cli.hpp), and captures what all ranks wrote together.
#pragma once


#include <sstream>
#include <string>
#include <vector>

#include "cli/run_cli.hpp"

namespace mha::testing {

// `mpirun -np <ranks> <program>` (a program and its arguments). Open MPI refuses to start as
// root (CI runs as root) unless both variables say so; --oversubscribe lets 3 ranks share a
// 2-core machine.
inline CliResult run_mpi_program(int ranks, const std::string& program) {
  return run_shell(std::string("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " MHA_MPIEXEC
                               " --oversubscribe -np ") +
                   std::to_string(ranks) + " " + program);
}

inline std::string mha_binary() { return MHA_BINARY_DIR "/apps/cli/mha"; }

// `mpirun -np <ranks> mha <args>`.
inline CliResult run_mpi(int ranks, const std::string& args) {
  return run_mpi_program(ranks, mha_binary() + " " + args);
}

// The "mha: error:" lines of a job's stderr (mpirun adds lines of its own).
inline std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("mha: error:", 0) == 0) lines.push_back(line);
  return lines;
}

// A failed job: non-zero exit, and each rank's error line names `what`. Every rank that fails
// prints one line, but once one rank has exited non-zero mpirun ends the others, so a job shows
// between one line and one per rank.
inline ::testing::AssertionResult job_fails_naming(const CliResult& r, int ranks,
                                                   const std::string& what) {
  if (r.exit_code == 0) return ::testing::AssertionFailure() << "exit code 0; stdout:\n" << r.out;
  const std::vector<std::string> lines = error_lines(r.err);
  if (lines.empty() || static_cast<int>(lines.size()) > ranks)
    return ::testing::AssertionFailure() << lines.size() << " 'mha: error:' lines, expected 1 to "
                                         << ranks << ":\n" << r.err;
  for (const std::string& line : lines)
    if (line.find(what) == std::string::npos)
      return ::testing::AssertionFailure() << "an error line does not name '" << what << "':\n"
                                           << r.err;
  return ::testing::AssertionSuccess();
}

}  // namespace mha::testing
