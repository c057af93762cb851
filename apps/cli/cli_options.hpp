// Options shared by several subcommands: the attention kernel, the colour mode of heat maps and
// comma-separated integer lists (--shape, --generate).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "mha/core/context.hpp"
#include "mha/viz/heatmap.hpp"

namespace mha::cli {

// Adds --kernel ref|cpu to `command`, defaulting to cpu when this build has it and ref otherwise.
void add_kernel_option(CLI::App& command, std::string& kernel);
// Parses --kernel's value; throws mha::Error naming --kernel when it is unknown or not built in.
KernelKind resolve_kernel(const std::string& kernel);

// Adds --color always|never|auto (default auto).
void add_color_option(CLI::App& command, std::string& color);
// auto: 256-colour shading when stdout is a terminal and neither NO_COLOR is set nor TERM=dumb.
viz::ColorMode resolve_color(const std::string& color);

// "1,2048,512,8" → {1, 2048, 512, 8}; an item that is not a whole integer reads as 0, so the
// caller's range check names the option and the text.
std::vector<Index> parse_index_list(const std::string& text);

}  // namespace mha::cli
