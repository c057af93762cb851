#include "cli_options.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string_view>

#include "mha/kernels/attention.hpp"

namespace mha::cli {

void add_kernel_option(CLI::App& command, std::string& kernel) {
  kernel = "cpu";
  command
      .add_option("--kernel", kernel,
                  "attention kernel: ref (float64 reference, the oracle) or cpu (fast)")
      ->capture_default_str();
}

KernelKind resolve_kernel(const std::string& kernel) { return parse_kernel(kernel, "--kernel"); }

std::vector<Index> parse_index_list(const std::string& text) {
  std::vector<Index> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      values.push_back(std::stoll(item, &used));
      if (used != item.size()) values.back() = 0;
    } catch (const std::exception&) {
      values.push_back(0);
    }
  }
  return values;
}

void add_color_option(CLI::App& command, std::string& color) {
  color = "auto";
  command
      .add_option("--color", color,
                  "heat-map shading: always (256-colour ANSI), never (shade glyphs), auto (ANSI "
                  "when stdout is a terminal)")
      ->check(CLI::IsMember({"always", "never", "auto"}))
      ->capture_default_str();
}

viz::ColorMode resolve_color(const std::string& color) {
  if (color == "always") return viz::ColorMode::ansi256;
  if (color == "never") return viz::ColorMode::plain;
  const char* term = std::getenv("TERM");
  const bool dumb = term != nullptr && std::string_view(term) == "dumb";
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  return terminal && !dumb && std::getenv("NO_COLOR") == nullptr ? viz::ColorMode::ansi256
                                                                 : viz::ColorMode::plain;
}

}  // namespace mha::cli
