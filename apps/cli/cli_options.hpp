// Options shared by several subcommands: the attention kernel and the colour mode of heat maps.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

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

}  // namespace mha::cli
