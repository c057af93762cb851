// mha demo: registers the subcommand and picks the mode (demo.hpp).
#include <memory>

#include "cli_options.hpp"
#include "commands.hpp"
#include "demo.hpp"

namespace mha::cli {

void register_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* demo = app.add_subcommand(
      "demo", "Trained multi-head vs single-head attention on one sentence, as terminal heat maps");
  demo->add_option("--text", args->text, "the sentence (words of the attachment language; with "
                                         "--untrained any text)")
      ->capture_default_str();
  demo->add_option("--focus", args->focus, "the word whose links are compared head by head "
                                           "(default: the PP noun, else the last word)");
  demo->add_option("--layer", args->layer, "layer of the heat maps, from 1 (default: the last)")
      ->check(CLI::Range(Index{1}, Index{1} << 20));
  demo->add_option("--model", args->model, "a checkpoint from `mha train` instead of the built-in models");
  demo->add_option("--html", args->html, "also write the offline head view (every layer and head) to FILE");
  demo->add_flag("--contextual", args->contextual,
                 "static vs contextual embeddings: \"bank\" in a money and a river sentence");
  demo->add_flag("--untrained", args->untrained,
                 "one seeded random layer at any width instead: the mechanism and its cost");
  demo->add_option("--d-model", args->d_model, "model width E (--untrained)")
      ->check(CLI::Range(Index{1}, Index{8192}))
      ->capture_default_str();
  demo->add_option("--heads", args->heads, "number of heads H, must divide --d-model (--untrained)")
      ->check(CLI::Range(Index{1}, Index{8192}))
      ->capture_default_str();
  demo->add_option("--seed", args->seed, "seed of the word vectors and the random weights (--untrained)")
      ->capture_default_str();
  add_kernel_option(*demo, args->kernel);
  add_color_option(*demo, args->color);
  demo->add_option("--trace", args->trace,
                   "also write a JSON trace (tokens, config, per-head weights, links)");
  demo->callback([args] {
    if (args->untrained && args->contextual)
      throw_invalid("--contextual", "not together with --untrained", "both");
    if (args->untrained) return run_untrained_demo(*args);
    if (args->contextual) return run_contextual_demo(*args);
    run_trained_demo(*args);
  });
}

}  // namespace mha::cli
