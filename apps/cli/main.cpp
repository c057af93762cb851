// mha — multi-head attention you can run, inspect and measure.
#include <cstdio>
#include <exception>
#include <string>

#include <fmt/core.h>

#include "commands.hpp"
#include "mha/core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mha: exact, fast, inspectable multi-head attention"};
  app.require_subcommand(1);
  // Bad flags get the same single line as library errors (CLI11's default adds a second line).
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return fmt::format("mha: error: {} (see 'mha --help')\n", e.what());
  });
  mha::cli::register_demo(app);
  mha::cli::register_explain(app);
  mha::cli::register_attend(app);
  mha::cli::register_bench(app);
  mha::cli::register_heads(app);
  mha::cli::register_train(app);
  mha::cli::register_experiment(app);
  mha::cli::register_generate(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mha::Error& e) {
    // One line: the message, then where to look for the right usage.
    // The hint names the innermost subcommand that ran ("mha experiment heads --help").
    std::string command = "mha";
    for (const CLI::App* sub = &app; !sub->get_subcommands().empty();) {
      sub = sub->get_subcommands().front();
      command += " " + sub->get_name();
    }
    fmt::print(stderr, "mha: error: {} (see '{} --help')\n", e.what(), command);
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mha: error: {}\n", e.what());
    return 2;
  }
  return 0;
}
