// Each subcommand lives in its own file and registers itself on the root app.
// A subcommand's callback throws mha::Error (or CLI::Error) on bad input; main() turns that into
// one line on stderr, a hint, and a non-zero exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace mha::cli {

void register_demo(CLI::App& app);
void register_explain(CLI::App& app);
void register_attend(CLI::App& app);
void register_bench(CLI::App& app);
void register_heads(CLI::App& app);
void register_train(CLI::App& app);
void register_experiment(CLI::App& app);
// `mha experiment relations` (experiment_relations.cpp), under the experiment command.
void register_experiment_relations(CLI::App& experiment);
void register_generate(CLI::App& app);

}  // namespace mha::cli
